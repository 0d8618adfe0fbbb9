//! What a client on an older protocol version can parse. rmcp adapts the envelope of a
//! result to the negotiated version (it drops `resultType` before 2026-07-28) but sends
//! content blocks as they are, and a content block of a type the client's version does not
//! define makes strict clients (the Python SDK's pydantic models, the TypeScript SDK's zod
//! schemas) reject the whole result: the text and the image are lost with it.
//!
//! `resource_link` arrived in 2025-06-18, so clients on 2024-11-05 and 2025-03-26 get each
//! link as a line of text with its URI (still readable through `resources/read`), MIME type
//! and size. Fields an older client does not know (`structuredContent`) are left alone: a
//! result object admits extra fields in every version.

use rmcp::model::{CallToolResponse, ContentBlock, ProtocolVersion, Resource};

/// The first version whose content blocks include `resource_link`.
const RESOURCE_LINK_SINCE: ProtocolVersion = ProtocolVersion::V_2025_06_18;

/// `response` as a client on `version` can parse it; unchanged when the version is unknown.
pub(crate) fn fit(
    response: CallToolResponse,
    version: Option<&ProtocolVersion>,
) -> CallToolResponse {
    match response {
        CallToolResponse::Complete(mut result)
            if version.is_some_and(|v| *v < RESOURCE_LINK_SINCE) =>
        {
            result.content = links_as_text(std::mem::take(&mut result.content));
            CallToolResponse::Complete(result)
        }
        other => other,
    }
}

/// Replaces the `resource_link` blocks with one text block, where the first link was.
fn links_as_text(content: Vec<ContentBlock>) -> Vec<ContentBlock> {
    let mut out = Vec::with_capacity(content.len());
    let mut lines = Vec::new();
    let mut at = None;
    for block in content {
        match block {
            ContentBlock::ResourceLink(link) => {
                at.get_or_insert(out.len());
                lines.push(describe(&link));
            }
            other => out.push(other),
        }
    }
    if let Some(at) = at {
        out.insert(
            at,
            ContentBlock::text(format!(
                "Resources (read them with resources/read):\n{}",
                lines.join("\n")
            )),
        );
    }
    out
}

fn describe(link: &Resource) -> String {
    let mut facts = Vec::new();
    if let Some(mime) = &link.mime_type {
        facts.push(mime.clone());
    }
    if let Some(size) = link.size {
        facts.push(format!("{size} bytes"));
    }
    let mut line = format!("- {}", link.uri);
    if !facts.is_empty() {
        line.push_str(&format!(" ({})", facts.join(", ")));
    }
    if let Some(description) = &link.description {
        line.push_str(&format!(": {description}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use rmcp::model::CallToolResult;

    use super::*;

    fn result() -> CallToolResponse {
        let link = |i: u32| {
            ContentBlock::resource_link(
                Resource::new(format!("easel://jobs/j/images/{i}"), format!("{i}.png"))
                    .with_mime_type("image/png")
                    .with_size(10 + u64::from(i))
                    .with_description(format!("image {i} saved at /out/{i}.png")),
            )
        };
        let mut r = CallToolResult::success(vec![
            ContentBlock::text("Generated 2 images"),
            ContentBlock::image("aGk=", "image/webp"),
            link(0),
            link(1),
        ]);
        r.structured_content = Some(serde_json::json!({"status": "succeeded"}));
        r.into()
    }

    fn kinds(r: &CallToolResponse) -> Vec<String> {
        let CallToolResponse::Complete(r) = r else {
            panic!("a complete result")
        };
        r.content
            .iter()
            .map(|c| serde_json::to_value(c).expect("json")["type"].to_string())
            .collect()
    }

    #[test]
    fn links_become_one_text_block_before_2025_06_18() {
        for version in [ProtocolVersion::V_2024_11_05, ProtocolVersion::V_2025_03_26] {
            let fitted = fit(result(), Some(&version));
            assert_eq!(kinds(&fitted), [r#""text""#, r#""image""#, r#""text""#]);
            let CallToolResponse::Complete(r) = fitted else {
                panic!("complete")
            };
            let text = r.content[2].as_text().expect("text").text.clone();
            assert_eq!(
                text,
                "Resources (read them with resources/read):\n\
                 - easel://jobs/j/images/0 (image/png, 10 bytes): image 0 saved at /out/0.png\n\
                 - easel://jobs/j/images/1 (image/png, 11 bytes): image 1 saved at /out/1.png"
            );
            assert!(r.structured_content.is_some(), "structured content kept");
        }
    }

    #[test]
    fn newer_or_unknown_versions_get_the_links() {
        let expected = [
            r#""text""#,
            r#""image""#,
            r#""resource_link""#,
            r#""resource_link""#,
        ];
        for version in [
            Some(ProtocolVersion::V_2025_06_18),
            Some(ProtocolVersion::V_2025_11_25),
            Some(ProtocolVersion::V_2026_07_28),
            None,
        ] {
            assert_eq!(
                kinds(&fit(result(), version.as_ref())),
                expected,
                "{version:?}"
            );
        }
    }

    #[test]
    fn a_result_without_links_is_unchanged() {
        let plain: CallToolResponse =
            CallToolResult::success(vec![ContentBlock::text("no files")]).into();
        let fitted = fit(plain, Some(&ProtocolVersion::V_2024_11_05));
        assert_eq!(kinds(&fitted), [r#""text""#]);
    }
}
