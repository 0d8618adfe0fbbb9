//! Simulators of the services easel talks to, written from `shared/contracts/`.
