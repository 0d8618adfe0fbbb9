//! MCP prompts: ready-made requests a person can pick in their client.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{GetPromptResult, PromptMessage, Role};
use rmcp::{ErrorData as McpError, prompt, prompt_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::EaselServer;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ImageRequestArgs {
    /// What the image should show, in any language.
    pub prompt: String,
    /// The style, e.g. "动漫风格" (anime style, the default), "watercolor", "photorealistic".
    #[serde(default)]
    pub style: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BatchFromFileArgs {
    /// The prompt file, relative to easel's output root (text: one prompt a line; or .jsonl).
    pub path: String,
}

#[prompt_router(vis = "pub")]
impl EaselServer {
    /// The prototype's whole story: prompts from a file, images for each, then a Xiaohongshu note around them.
    #[prompt(name = "batch_from_file")]
    async fn batch_from_file(
        &self,
        Parameters(a): Parameters<BatchFromFileArgs>,
    ) -> Result<GetPromptResult, McpError> {
        let text = format!(
            "Work through this, step by step, telling me what you do:\n\
             1. Call generate_batch with file \"{path}\" (one prompt per line; .jsonl lines may carry their own size, seed or model) \
             and a batch_key named after the file, so that running it again never pays twice. If the result says lines are still running, \
             call generate_batch again with the same arguments until every line has finished.\n\
             2. Report which lines succeeded (with their files) and which failed and why; fix and retry failed lines only if the fix is obvious.\n\
             3. Pick the best images (at most 9) and write a Xiaohongshu note about them: a title within 20 units (a Chinese character counts 2, so about 10 characters), \
             a body within 1000 characters in my language, and up to 10 tags.\n\
             4. Call publisher_status to check the account is logged in (if it shows a QR code, show it to me and wait), then call publish_note \
             with the title, body, tags and the chosen image paths, and tell me exactly what the service confirmed.",
            path = a.path
        );
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description("Prompts from a file → images → a published Xiaohongshu note"),
        )
    }

    /// Turn an idea into a high-quality English prompt for ComfyUI, then generate it.
    #[prompt(name = "generate_image_request")]
    async fn generate_image_request(
        &self,
        Parameters(a): Parameters<ImageRequestArgs>,
    ) -> Result<GetPromptResult, McpError> {
        let style = a.style.unwrap_or_else(|| "动漫风格".to_string());
        let text = format!(
            "Write one high-quality English prompt for ComfyUI (Flux / Stable Diffusion) that shows: {}\n\
             The style must be: {style}.\n\
             Describe subject, composition, lighting, colours and level of detail in one paragraph of comma-separated phrases, \
             suitable for a text-to-image model, and aim for a very high quality picture. \
             Then call the generate_image tool with that prompt (backend \"comfyui\").",
            a.prompt
        );
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).with_description(
                "Ask for a high-quality English ComfyUI prompt with this content and style",
            ),
        )
    }
}
