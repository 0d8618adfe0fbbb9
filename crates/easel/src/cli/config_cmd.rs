//! `easel config`: what easel runs with and why.

use crate::config::Config;

pub fn print(config: &Config) {
    let file = &config.file;
    let state = if file.loaded {
        "loaded"
    } else {
        "not present; defaults and environment only"
    };
    println!("# configuration file: {} ({state})", file.path.display());
    let width = config
        .settings
        .iter()
        .map(|s| s.key.len())
        .max()
        .unwrap_or(0);
    for s in &config.settings {
        println!("{:width$} = {:<40} # {}", s.key, s.value, s.source);
    }
}
