//! Showing a job's progress to a person: a bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::jobs::Job;

pub enum Display {
    Bar(ProgressBar),
    Lines { last: String },
}

impl Display {
    pub fn new() -> Display {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(100);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos:>3}% {msg}",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            Display::Bar(bar)
        } else {
            Display::Lines {
                last: String::new(),
            }
        }
    }

    pub fn show(&mut self, job: &Job) {
        let pct = (job.progress.fraction * 100.0).round() as u64;
        match self {
            Display::Bar(bar) => {
                bar.set_position(pct);
                bar.set_message(job.progress.message.clone());
            }
            Display::Lines { last } => {
                if *last != job.progress.message {
                    eprintln!("[{pct:>3}%] {}", job.progress.message);
                    *last = job.progress.message.clone();
                }
            }
        }
    }

    pub fn finish(self) {
        if let Display::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
