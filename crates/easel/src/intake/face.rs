//! How each kind of caller spells a request's fields, so that a refusal names the parameter
//! the caller actually wrote: `output_dir` to generate_image, `copy_to` to get_job, `--out`
//! on the command line. Errors below this layer carry the canonical (MCP) field id; a face
//! renders it.

use crate::jobs::SubmitError;
use crate::request::InvalidInput;

/// A request field, by its canonical id (generate_image's parameter name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Prompt,
    NegativePrompt,
    Backend,
    Model,
    Size,
    Seed,
    Steps,
    Guidance,
    Loras,
    Count,
    Workflow,
    Params,
    OutputDir,
    Filename,
    Format,
    Preview,
    WaitSeconds,
    IdempotencyKey,
}

impl Field {
    const ALL: [Field; 18] = [
        Field::Prompt,
        Field::NegativePrompt,
        Field::Backend,
        Field::Model,
        Field::Size,
        Field::Seed,
        Field::Steps,
        Field::Guidance,
        Field::Loras,
        Field::Count,
        Field::Workflow,
        Field::Params,
        Field::OutputDir,
        Field::Filename,
        Field::Format,
        Field::Preview,
        Field::WaitSeconds,
        Field::IdempotencyKey,
    ];

    /// The canonical id, as [`InvalidInput::field`] and the MCP tools name it.
    pub fn id(self) -> &'static str {
        match self {
            Field::Prompt => "prompt",
            Field::NegativePrompt => "negative_prompt",
            Field::Backend => "backend",
            Field::Model => "model",
            Field::Size => "size",
            Field::Seed => "seed",
            Field::Steps => "steps",
            Field::Guidance => "guidance",
            Field::Loras => "loras",
            Field::Count => "count",
            Field::Workflow => "workflow",
            Field::Params => "params",
            Field::OutputDir => "output_dir",
            Field::Filename => "filename",
            Field::Format => "format",
            Field::Preview => "preview",
            Field::WaitSeconds => "wait_seconds",
            Field::IdempotencyKey => "idempotency_key",
        }
    }

    pub fn from_id(id: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.id() == id)
    }
}

/// Who is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    /// generate_image, edit_image, per-workflow tools and batch lines (whose keys are
    /// generate_image's): the canonical names.
    Mcp,
    /// get_job: its folder is `copy_to`.
    GetJob,
    /// `easel generate`: the command's flags.
    Cli,
}

impl Face {
    /// The name this caller wrote for `field`.
    pub fn spell(self, field: Field) -> &'static str {
        match (self, field) {
            (Face::GetJob, Field::OutputDir) => "copy_to",
            (Face::Mcp | Face::GetJob, f) => f.id(),
            (Face::Cli, f) => match f {
                Field::Prompt => "PROMPT",
                Field::NegativePrompt => "--negative",
                Field::Backend => "--backend",
                Field::Model => "--model",
                Field::Size => "--size",
                Field::Seed => "--seed",
                Field::Steps => "--steps",
                Field::Guidance => "--guidance",
                Field::Loras => "loras",
                Field::Count => "--count",
                Field::Workflow => "--workflow",
                Field::Params => "--param",
                Field::OutputDir => "--out",
                Field::Filename => "--filename",
                Field::Format => "--format",
                Field::Preview => "preview",
                Field::WaitSeconds => "wait_seconds",
                Field::IdempotencyKey => "idempotency_key",
            },
        }
    }

    /// A field id as this caller spells it; ids that are not request fields (a
    /// publisher's, a workflow parameter's) are kept.
    fn spell_id(self, id: &str) -> &str {
        Field::from_id(id).map_or(id, |f| self.spell(f))
    }

    /// A refusal, naming the field as this caller spelled it.
    pub fn invalid(self, e: &InvalidInput) -> String {
        format!("{}: {}. {}", self.spell_id(e.field), e.reason, e.fix)
    }

    /// Why a job could not be created, naming the field as this caller spelled it.
    pub fn submit_error(self, e: &SubmitError) -> String {
        match e {
            SubmitError::Invalid(e) => self.invalid(e),
            SubmitError::Output(e) => self.output_error(e),
            other => other.to_string(),
        }
    }

    /// An output folder or file name refused, naming them as this caller spelled them.
    pub fn output_error(self, e: &crate::outputs::OutputError) -> String {
        e.message_as(self.spell(Field::OutputDir), self.spell(Field::Filename))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_id_reads_back() {
        for f in Field::ALL {
            assert_eq!(Field::from_id(f.id()), Some(f));
        }
    }

    #[test]
    fn the_mcp_face_renders_exactly_what_the_error_displays() {
        let e = InvalidInput::new("size", "is odd", "Fix it.");
        assert_eq!(Face::Mcp.invalid(&e), e.to_string());
        let out = crate::outputs::validate_relative_dir("../x").expect_err("refused");
        assert_eq!(Face::Mcp.output_error(&out), out.to_string());
    }

    #[test]
    fn the_cli_face_names_its_flags() {
        let out = crate::outputs::validate_relative_dir("../x").expect_err("refused");
        let text = Face::Cli.output_error(&out);
        assert!(text.starts_with("--out \"../x\""), "{text}");
        assert!(!text.contains("output_dir"), "{text}");
        let e = InvalidInput::new("size", "is odd", "Fix it.");
        assert_eq!(Face::Cli.invalid(&e), "--size: is odd. Fix it.");
        let other = InvalidInput::new("publisher", "is unknown", "Fix it.");
        assert_eq!(Face::Cli.invalid(&other), "publisher: is unknown. Fix it.");
    }

    #[test]
    fn get_job_names_its_folder_copy_to() {
        let out = crate::outputs::validate_relative_dir("/abs").expect_err("refused");
        let text = Face::GetJob.output_error(&out);
        assert!(text.starts_with("copy_to \"/abs\""), "{text}");
        assert!(!text.contains("output_dir"), "{text}");
    }
}
