//! The simulators' tests, as one test binary (ripgrep's layout): a module per simulator,
//! each driving it over real HTTP as a production client would. One binary links the crate
//! once instead of once per file. Select a group by its module path:
//! `cargo test -p easel-sim --test tests comfyui::`.

mod common;

mod comfyui;
mod modelscope;
mod openai;
mod webhook;
mod xhs;
