//! The publishing prompt: drafting a Xiaohongshu note that fits the platform's limits, then
//! publishing it with publish_note.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{GetPromptResult, PromptMessage, Role};
use rmcp::{ErrorData as McpError, prompt, prompt_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::EaselServer;
use crate::publish::rules::{MAX_BODY, MAX_IMAGES, MAX_TAGS, MAX_TITLE};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct XiaohongshuNoteArgs {
    /// What the note is about, in the language the note should be written in.
    pub topic: String,
    /// Images to attach: saved paths, job ids or easel:// URIs, separated by commas or new lines. Omitted = images made earlier in the conversation.
    #[serde(default)]
    pub images: Option<String>,
    /// The tone, e.g. 活泼 (lively), 温暖 (warm), 专业 (professional).
    #[serde(default)]
    pub tone: Option<String>,
}

#[prompt_router(router = "publish_prompts", vis = "pub")]
impl EaselServer {
    /// Write a Xiaohongshu (RedNote) note about a topic within the platform's limits, then publish it with publish_note.
    #[prompt(name = "xiaohongshu_note")]
    async fn xiaohongshu_note(
        &self,
        Parameters(a): Parameters<XiaohongshuNoteArgs>,
    ) -> Result<GetPromptResult, McpError> {
        let images = match a.images.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(list) => {
                let names: Vec<&str> = list
                    .split([',', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                format!("Attach these images, in this order: {}.", names.join(", "))
            }
            None => format!(
                "Attach the images made earlier in this conversation (their saved paths or job ids), 1 to {MAX_IMAGES}; if there are none, make them first with generate_image."
            ),
        };
        let tone = a
            .tone
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map_or_else(
                || "natural and friendly, like a real Xiaohongshu post".to_string(),
                str::to_string,
            );
        let text = format!(
            "Write a Xiaohongshu (RedNote) image note about: {topic}\n\
             Tone: {tone}. Write in the user's language (the language of the topic above).\n\n\
             Fit these limits exactly; publish_note refuses anything over them:\n\
             - title: at most {MAX_TITLE} units, where a Chinese (CJK) or other non-ASCII character counts 1, \
             an ASCII letter, digit or space ½, and an emoji 2 — so at most {MAX_TITLE} Chinese characters, or 40 ASCII letters. A short, catchy title.\n\
             - content (the body): at most {MAX_BODY} characters; short paragraphs, a few emoji are welcome; no hashtags in the body.\n\
             - tags: 1 to {MAX_TAGS} topics without the # sign.\n\
             {images}\n\n\
             Show the title, body and tags to the user, then call the publish_note tool with title, content, images and tags \
             (and publisher, if the user named an account). If publish_note lists problems, fix every one and call it again. \
             If the outcome is unconfirmed or unknown, do not call it again: ask the user to check the account first.",
            topic = a.topic.trim(),
        );
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description("Draft a Xiaohongshu note within its limits, then publish it"),
        )
    }
}
