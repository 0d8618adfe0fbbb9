//! `easel publish` and `easel publishers`: the publishing tools from the command line,
//! with the same checks, outcomes and records as publish_note and publisher_status.

use std::process::ExitCode;

use crate::app::Storage;
use crate::config::Config;
use crate::publish::NoteInput;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Publisher name (default: default_publisher).
    #[arg(long)]
    publisher: Option<String>,
    /// Title: at most 20 units (a Chinese character counts 1, an ASCII character ½).
    #[arg(long)]
    title: String,
    /// Body text, at most 1000 characters.
    #[arg(long)]
    content: String,
    /// An image: a saved path, a job id (all its images) or an easel:// URI. Repeat for more.
    #[arg(long = "image", value_name = "PATH", required = true)]
    images: Vec<String>,
    /// A topic (the leading # is optional). Repeat for more, up to 10.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Publish later: RFC 3339 with offset, 1 hour to 14 days ahead.
    #[arg(long)]
    schedule_at: Option<String>,
    /// 公开可见 / public (default), 仅自己可见 / private, 仅互关好友可见 / friends.
    #[arg(long)]
    visibility: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Only this publisher.
    #[arg(long)]
    publisher: Option<String>,
    /// For a logged-out Xiaohongshu account, fetch a login QR code and save it under the output root.
    #[arg(long)]
    login: bool,
}

/// Exit 0 only for a confirmed publish; 2 when the note was refused before sending.
pub async fn publish(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let app = crate::app::build(config, Storage::Durable)?;
    let input = NoteInput {
        publisher: args.publisher,
        title: args.title,
        content: args.content,
        images: args.images,
        tags: args.tags,
        schedule_at: args.schedule_at,
        visibility: args.visibility,
    };
    let started = match app
        .publishers
        .publish(&app.jobs, &config.input_dirs, input)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    if started.kind != crate::config::PublisherKind::Draft {
        eprintln!(
            "publishing to {} (this can take minutes; it is never retried)…",
            started.publisher
        );
    }
    let report = started.finish().await;
    println!("{}", report.text());
    Ok(if report.published {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Exit 0 when every publisher shown is ready.
pub async fn status(config: &Config, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let app = crate::app::build(config, Storage::Ephemeral)?;
    let reports = match app
        .publishers
        .status(app.jobs.outputs(), args.publisher.as_deref(), args.login)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    for r in &reports {
        println!("{}", r.text());
    }
    Ok(if reports.iter().all(|r| r.ready) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
