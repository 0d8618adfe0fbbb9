//! One small SVG icon for the server and each tool, as `data:` URIs so that no host has to
//! fetch anything. Each is a single stroked path on a 24-unit grid: a few hundred bytes.

use base64::Engine;
use rmcp::model::Icon;

/// A canvas on an easel.
pub const SERVER: &str = "M4 3h16v11H4zM8 21l2-7M16 21l-2-7";
/// A sparkle: something new.
pub const GENERATE: &str = "M12 3l2 6 6 2-6 2-2 6-2-6-6-2 6-2z";
/// A pencil.
pub const EDIT: &str = "M4 20h4L19 9l-4-4L4 16zM13 7l4 4";
/// Stacked frames: many at once.
pub const BATCH: &str = "M3 8h12v12H3zM8 3h13v13";
/// A clock: waiting for a job.
pub const JOB: &str = "M21 12a9 9 0 1 1-18 0 9 9 0 0 1 18 0zM12 7v5l3 2";
/// A list.
pub const JOBS: &str = "M8 6h13M8 12h13M8 18h13M3 6h1M3 12h1M3 18h1";
/// A crossed circle.
pub const CANCEL: &str = "M21 12a9 9 0 1 1-18 0 9 9 0 0 1 18 0zM9 9l6 6M15 9l-6 6";
/// Two linked nodes: a workflow graph.
pub const WORKFLOWS: &str = "M3 5h6v6H3zM15 13h6v6h-6zM9 8h3v8h3";
/// Two stacked servers.
pub const BACKENDS: &str = "M4 4h16v6H4zM4 14h16v6H4zM8 7h1M8 17h1";
/// A paper plane: sending a note.
pub const PUBLISH: &str = "M22 2L11 13M22 2l-7 20-4-9-9-4z";
/// A person with a tick: is the account logged in.
pub const PUBLISHER: &str =
    "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21c0-4 3-6 7-6s7 2 7 6M16 11l2 2 4-4";
/// A page: the notes sent.
pub const NOTES: &str = "M6 2h9l5 5v15H6zM14 2v6h6M9 13h8M9 17h8";

/// The icon list for one path: an SVG `data:` URI, scalable.
pub fn icon(path: &str) -> Vec<Icon> {
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\" fill=\"none\" \
         stroke=\"#4f46e5\" stroke-width=\"2\" stroke-linejoin=\"round\"><path d=\"{path}\"/></svg>"
    );
    let data = base64::engine::general_purpose::STANDARD.encode(svg);
    vec![
        Icon::new(format!("data:image/svg+xml;base64,{data}"))
            .with_mime_type("image/svg+xml")
            .with_sizes(vec!["any".to_string()]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icons_are_small_svg_data_uris() {
        for path in [
            SERVER, GENERATE, EDIT, BATCH, JOB, JOBS, CANCEL, WORKFLOWS, BACKENDS, PUBLISH,
            PUBLISHER, NOTES,
        ] {
            let icons = icon(path);
            let src = &icons[0].src;
            assert!(src.starts_with("data:image/svg+xml;base64,"), "{src}");
            assert!(src.len() < 400, "{} bytes: {src}", src.len());
            let svg = base64::engine::general_purpose::STANDARD
                .decode(&src["data:image/svg+xml;base64,".len()..])
                .expect("base64");
            let svg = String::from_utf8(svg).expect("utf-8");
            assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
        }
    }
}
