//! `easel tools`: the MCP tools as clients see them, from the tool definitions themselves
//! (no configuration or backend needed). `--markdown` prints docs/TOOLS.md.

use std::process::ExitCode;

use crate::service::surface;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the whole tool reference as Markdown (what docs/TOOLS.md holds).
    #[arg(long)]
    markdown: bool,
}

pub fn run(args: &Args) -> ExitCode {
    if args.markdown {
        print!("{}", surface::reference_markdown());
        return ExitCode::SUCCESS;
    }
    let tools = surface::tools();
    for tool in &tools {
        println!("{}: {}", tool.name, surface::purpose(tool));
    }
    let budgeted = surface::budgeted_json(&tools).len();
    let whole = serde_json::to_string(&tools).map_or(0, |j| j.len());
    println!(
        "\n{} tools; tools/list: {budgeted} bytes of names, descriptions, schemas and annotations (budget {}, ≈ {} tokens at 4 bytes a token), {whole} bytes with icons.",
        tools.len(),
        surface::TOOLS_BUDGET_BYTES,
        budgeted / 4
    );
    ExitCode::SUCCESS
}
