//! `easel-mcp`: the same program as `easel`, under the name the package registries install.

use std::process::ExitCode;

fn main() -> ExitCode {
    easel::cli::main()
}
