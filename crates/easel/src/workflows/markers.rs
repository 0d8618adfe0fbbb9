//! Title markers: `$name.input[!][:description]` tokens in a node's `_meta.title`, so a
//! parameter can be marked in the ComfyUI editor (rename the node) and exported as is.
//! The token form follows Pixelle-MCP's, so workflows marked for it work here too.

/// One `$name.input` token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub name: String,
    pub input: String,
    pub required: bool,
    pub description: String,
}

/// Pixelle marks output nodes with `$output.var`; easel finds outputs itself, so such
/// tokens are skipped rather than read as a parameter called "output".
pub const IGNORED: &[&str] = &["output"];

/// Every marker in `title`. A `$` not followed by `name.input` is ordinary title text. A
/// description runs from `:` to the next marker or the end of the title.
pub fn parse(title: &str) -> Vec<Marker> {
    let mut found: Vec<(usize, usize, Marker)> = Vec::new();
    for (start, _) in title.match_indices('$') {
        if found.last().is_some_and(|(_, end, _)| start < *end) {
            continue;
        }
        if let Some((end, m)) = token(&title[start + 1..]) {
            found.push((start, start + 1 + end, m));
        }
    }
    let starts: Vec<usize> = found.iter().map(|(s, _, _)| *s).collect();
    let mut out = Vec::with_capacity(found.len());
    for (i, (_, end, mut m)) in found.into_iter().enumerate() {
        let stop = starts.get(i + 1).copied().unwrap_or(title.len());
        if let Some(desc) = title[end..stop].strip_prefix(':') {
            m.description = desc.trim().to_string();
        }
        if !IGNORED.contains(&m.name.as_str()) {
            out.push(m);
        }
    }
    out
}

/// Reads `name.input[!]` at the start of `s`; returns where it ends.
fn token(s: &str) -> Option<(usize, Marker)> {
    let ident_end = |s: &str| {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let n = ident_end(s);
    let name = &s[..n];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let rest = s[n..].strip_prefix('.')?;
    let i = ident_end(rest);
    if i == 0 {
        return None;
    }
    let mut end = n + 1 + i;
    let required = s[end..].starts_with('!');
    if required {
        end += 1;
    }
    Some((
        end,
        Marker {
            name: name.to_string(),
            input: rest[..i].to_string(),
            required,
            description: String::new(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, input: &str, required: bool, description: &str) -> Marker {
        Marker {
            name: name.into(),
            input: input.into(),
            required,
            description: description.into(),
        }
    }

    #[test]
    fn reads_tokens_flags_and_descriptions() {
        assert_eq!(
            parse("Latent $width.width $height.height"),
            vec![
                m("width", "width", false, ""),
                m("height", "height", false, "")
            ]
        );
        assert_eq!(
            parse("Style $style.text!:Art style to apply"),
            vec![m("style", "text", true, "Art style to apply")]
        );
        assert_eq!(
            parse("$a.text:first thing $b.seed!: second"),
            vec![
                m("a", "text", false, "first thing"),
                m("b", "seed", true, "second")
            ]
        );
        assert!(parse("Costs $5 or $.x or $name alone").is_empty());
        assert!(parse("Save $output.image").is_empty());
    }
}
