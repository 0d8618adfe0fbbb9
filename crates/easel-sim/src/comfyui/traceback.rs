//! Python-style tracebacks for the errors the simulator reports.
//!
//! ComfyUI sends `traceback.format_tb()` lists in `execution_error` and in validation
//! exceptions (contract 3.3, 8.3). Clients show or log them, never parse them, but they
//! must be lists of `"  File …, line N, in f\n    source\n"` strings, so the simulator
//! writes plausible ones that point into a ComfyUI install at [`ROOT`].

/// Where the simulated ComfyUI is installed.
pub const ROOT: &str = "/opt/ComfyUI";

/// One traceback frame as `traceback.format_tb` prints it.
pub fn frame(file: &str, line: u32, function: &str, source: &str) -> String {
    format!("  File \"{ROOT}/{file}\", line {line}, in {function}\n    {source}\n")
}

/// An exception raised in `validate_inputs` at `source`, as caught by
/// `validate_prompt`.
pub fn validate_inputs(source: &str) -> Vec<String> {
    vec![
        frame(
            "execution.py",
            1172,
            "validate_prompt",
            "m = await validate_inputs(prompt_id, prompt, o, validated)",
        ),
        frame("execution.py", 921, "validate_inputs", source),
    ]
}

/// The same exception as caught one level up, by the parent node's `validate_inputs`.
pub fn inner_validation(raised: Vec<String>) -> Vec<String> {
    let mut frames = vec![frame(
        "execution.py",
        948,
        "validate_inputs",
        "r = await validate_inputs(prompt_id, prompt, o_id, validated, visiting)",
    )];
    frames.extend(raised.into_iter().skip(1));
    frames
}

/// An exception raised while a node runs: the executor's frames, then `tail` (the
/// node's own frames, ending at the `raise`).
pub fn execution(tail: Vec<String>) -> Vec<String> {
    let mut frames = vec![
        frame(
            "execution.py",
            542,
            "execute",
            "output_data, output_ui, has_subgraph, has_pending_tasks = await get_output_data(prompt_id, unique_id, obj, input_data_all, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, v3_data=v3_data)",
        ),
        frame(
            "execution.py",
            341,
            "get_output_data",
            "return_values = await _async_map_node_over_list(prompt_id, unique_id, obj, input_data_all, obj.FUNCTION, allow_interrupt=True, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, v3_data=v3_data)",
        ),
        frame(
            "execution.py",
            315,
            "_async_map_node_over_list",
            "await process_inputs(input_dict, i)",
        ),
        frame(
            "execution.py",
            303,
            "process_inputs",
            "result = f(**inputs)",
        ),
    ];
    frames.extend(tail);
    frames
}
