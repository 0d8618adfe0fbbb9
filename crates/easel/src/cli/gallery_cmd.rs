//! `easel gallery`: the gallery of this machine's jobs in the browser. The same app as
//! `easel serve --http` (MCP included) on the same store, bound to 127.0.0.1 only; prints
//! the page's URL and opens it.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, ExitCode, Stdio};

use crate::app::Storage;
use crate::config::Config;
use crate::gallery::GalleryOptions;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port on 127.0.0.1 (default: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Print the URL without opening a browser.
    #[arg(long)]
    no_open: bool,
}

pub async fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let mut settings = config.http.clone();
    // Loopback only, whatever http.bind says: this command is for the person at this machine.
    settings.bind = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let app = crate::app::build(config, Storage::Durable)?;
    app.jobs.start_background(true);
    let server = app.server(config);
    let gallery = GalleryOptions::from_config(
        config,
        app.publishers.clone(),
        super::generate::equivalent_command,
    );
    let open = !args.no_open;
    crate::serve::http::run_announcing(config, settings, server, app.jobs, gallery, |bound| {
        let url = format!("http://{bound}/");
        if open {
            open_browser(&url);
        }
        format!("easel gallery {url}")
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// Asks the desktop to open `url`; a machine without one (a server, a container) only gets
/// a note on stderr: the URL is printed either way.
fn open_browser(url: &str) {
    let mut command = if cfg!(target_os = "macos") {
        Command::new("open")
    } else if cfg!(windows) {
        let mut c = Command::new("cmd");
        // `start` takes its first quoted argument as a window title.
        c.args(["/C", "start", ""]);
        c
    } else {
        Command::new("xdg-open")
    };
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match command.spawn() {
        // Reaped on its own thread, so the opener never lingers as a zombie.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => eprintln!("easel: could not open a browser ({e}); open {url} yourself"),
    }
}
