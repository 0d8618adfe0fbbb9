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

#[prompt_router(vis = "pub")]
impl EaselServer {
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
