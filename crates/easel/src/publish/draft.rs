//! The draft publisher: a new folder under the output root, `<dir>/<time>-<title>/`, with
//! copies of the images (`01.png`, `02.jpg`, …), `note.md` to read and copy from, and
//! `note.json` for tools. For posting by hand, or for review before a real publish. A folder
//! is never reused and no file is ever overwritten.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::json;

use crate::jobs::{NoteContent, NoteOutcome};
use crate::outputs::{OutputFormat, OutputRoot, SaveRequest};

use super::Delivery;
use super::images::NoteImage;
use crate::clock::{format_utc, stamp};

/// Up to 32 characters of the title, letters and digits of any script, `-` between words.
fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.chars().count() >= 32 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "note".into() } else { out }
}

/// Creates `base/name`, or `base/name-2`, … : `create_dir` fails on an existing folder,
/// so two drafts in the same second never share one.
fn new_folder(base: &Path, name: &str) -> io::Result<(PathBuf, String)> {
    for n in 1..=1000 {
        let candidate = if n == 1 {
            name.to_string()
        } else {
            format!("{name}-{n}")
        };
        match fs::create_dir(base.join(&candidate)) {
            Ok(()) => return Ok((base.join(&candidate), candidate)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("1000 drafts with this name already exist"))
}

fn write_new(path: &Path, text: &str) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

fn markdown(note: &NoteContent, files: &[String]) -> String {
    let mut md = format!("# {}\n\n{}\n", note.title, note.content.trim_end());
    if !note.tags.is_empty() {
        let tags: Vec<String> = note.tags.iter().map(|t| format!("#{t}")).collect();
        md.push_str(&format!("\n{}\n", tags.join(" ")));
    }
    md.push_str("\n## Images\n\n");
    for f in files {
        if f.starts_with("http://") || f.starts_with("https://") {
            md.push_str(&format!("- {f}\n"));
        } else {
            md.push_str(&format!("![]({f})\n"));
        }
    }
    if let Some(at) = &note.schedule_at {
        md.push_str(&format!("\nSchedule: {at}\n"));
    }
    if let Some(v) = &note.visibility {
        md.push_str(&format!("\nVisibility: {v}\n"));
    }
    md
}

fn write_blocking(
    outputs: &OutputRoot,
    dir: &str,
    publisher: &str,
    note: &NoteContent,
    images: &[NoteImage],
) -> Result<PathBuf, String> {
    let base = outputs.resolve_dir(Some(dir)).map_err(|e| e.to_string())?;
    let now = SystemTime::now();
    let (folder, name) = new_folder(&base, &format!("{}-{}", stamp(now), slug(&note.title)))
        .map_err(|e| format!("cannot create a draft folder in {}: {e}", base.display()))?;
    let rel = format!("{}/{name}", dir.trim_end_matches(['/', '\\']));
    let mut files = Vec::new();
    let mut listed = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let Some(path) = &image.path else {
            // A URL stays a URL: the draft lists it for whoever posts by hand.
            files.push(image.sent());
            listed.push(json!({"source": image.label, "url": image.sent()}));
            continue;
        };
        let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let saved = outputs
            .save(&SaveRequest {
                dir: Some(&rel),
                stem: &format!("{:02}", i + 1),
                bytes: &bytes,
                format: OutputFormat::Original,
            })
            .map_err(|e| e.to_string())?;
        let file = saved
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        listed.push(json!({
            "source": image.label,
            "original": path.display().to_string(),
            "file": file,
        }));
        files.push(file);
    }
    let record = json!({
        "title": note.title,
        "content": note.content,
        "tags": note.tags,
        "images": listed,
        "schedule_at": note.schedule_at,
        "visibility": note.visibility,
        "publisher": publisher,
        "created_at": format_utc(crate::clock::now_ms() as i64),
    });
    let json_text = serde_json::to_string_pretty(&record).map_err(|e| e.to_string())?;
    write_new(&folder.join("note.json"), &format!("{json_text}\n"))
        .map_err(|e| format!("cannot write note.json: {e}"))?;
    write_new(&folder.join("note.md"), &markdown(note, &files))
        .map_err(|e| format!("cannot write note.md: {e}"))?;
    Ok(folder)
}

pub async fn write(
    outputs: &OutputRoot,
    dir: &str,
    publisher: &str,
    note: &NoteContent,
    images: &[NoteImage],
) -> Delivery {
    let (o, d, p, n, i) = (
        outputs.clone(),
        dir.to_string(),
        publisher.to_string(),
        note.clone(),
        images.to_vec(),
    );
    let written = tokio::task::spawn_blocking(move || write_blocking(&o, &d, &p, &n, &i))
        .await
        .map_err(|e| format!("writing the draft was interrupted: {e}"))
        .and_then(|r| r);
    match written {
        Ok(folder) => Delivery {
            outcome: NoteOutcome::Published,
            summary: format!(
                "draft written to {} ({} image(s), note.md, note.json) for posting by hand.",
                folder.display(),
                images.len()
            ),
            explanation: None,
            http_status: None,
            answer: None,
            location: Some(folder.display().to_string()),
        },
        Err(e) => Delivery {
            outcome: NoteOutcome::Failed,
            summary: format!("the draft could not be written: {e}"),
            explanation: None,
            http_status: None,
            answer: None,
            location: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_keep_any_script() {
        assert_eq!(slug("秋天的第一杯咖啡!"), "秋天的第一杯咖啡");
        assert_eq!(slug("Autumn's First  Latte"), "autumn-s-first-latte");
        assert_eq!(slug("!!!"), "note");
    }

    #[test]
    fn folders_are_never_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let (a, _) = new_folder(dir.path(), "x").expect("first");
        let (b, name) = new_folder(dir.path(), "x").expect("second");
        assert_ne!(a, b);
        assert_eq!(name, "x-2");
    }
}
