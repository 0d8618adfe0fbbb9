//! Reading prompt files: plain text (one prompt a line; blank lines and `#` comments
//! skipped) or JSON Lines (a prompt plus per-line parameters). A bad line is an error of
//! that line only.

use serde_json::{Map, Value};

/// One prompt of a batch, with the line it came from.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Line {
    /// 1-based line number in the file (or position in a list).
    pub number: usize,
    pub prompt: String,
    /// Parameters that override the batch's defaults for this line.
    pub overrides: Map<String, Value>,
}

/// A line that could not be read, with the reason.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BadLine {
    pub number: usize,
    pub reason: String,
}

/// JSON Lines when the name says so (`.jsonl`, `.ndjson`), else plain text.
pub fn is_json_lines(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".jsonl") || lower.ends_with(".ndjson")
}

pub fn parse(text: &str, json_lines: bool) -> (Vec<Line>, Vec<BadLine>) {
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if !json_lines {
            lines.push(Line {
                number,
                prompt: trimmed.to_string(),
                overrides: Map::new(),
            });
            continue;
        }
        match parse_json_line(trimmed) {
            Ok((prompt, overrides)) => lines.push(Line {
                number,
                prompt,
                overrides,
            }),
            Err(reason) => bad.push(BadLine { number, reason }),
        }
    }
    (lines, bad)
}

/// A JSON line: a string (the prompt) or an object with `prompt` and overrides.
pub fn parse_json_line(text: &str) -> Result<(String, Map<String, Value>), String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::String(prompt)) => Ok((prompt, Map::new())),
        Ok(Value::Object(mut obj)) => match obj.remove("prompt") {
            Some(Value::String(prompt)) => Ok((prompt, obj)),
            Some(other) => Err(format!("\"prompt\" must be a string, not {other}")),
            None => Err("the object has no \"prompt\"; write {\"prompt\": \"…\", …}".into()),
        },
        Ok(other) => Err(format!(
            "expected an object with \"prompt\" or a string, not {other}"
        )),
        Err(e) => Err(format!(
            "not valid JSON ({e}); write one JSON object per line"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_skips_blanks_and_comments_and_keeps_line_numbers() {
        let (lines, bad) = parse("# cats\n\na cat\n  a dog  \n# end\n", false);
        assert!(bad.is_empty());
        assert_eq!(
            lines
                .iter()
                .map(|l| (l.number, l.prompt.as_str()))
                .collect::<Vec<_>>(),
            vec![(3, "a cat"), (4, "a dog")]
        );
    }

    #[test]
    fn json_lines_carry_parameters_and_bad_lines_are_reported() {
        let text = "{\"prompt\": \"a cat\", \"size\": \"512x512\", \"seed\": 3}\n\"a dog\"\n{\"size\": \"1x1\"}\nnot json\n";
        let (lines, bad) = parse(text, true);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].overrides["size"], "512x512");
        assert_eq!(lines[1].prompt, "a dog");
        assert_eq!(bad.iter().map(|b| b.number).collect::<Vec<_>>(), vec![3, 4]);
        assert!(bad[0].reason.contains("prompt"));
        assert!(is_json_lines("p.JSONL") && !is_json_lines("p.txt"));
    }
}
