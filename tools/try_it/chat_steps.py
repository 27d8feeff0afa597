"""The chat steps: a streamed answer with its thinking, and a tool-call round trip as a Dify agent makes it."""

from __future__ import annotations

import json
from datetime import datetime

from dify_plugin.entities.model import AIModelEntity, ModelFeature, ModelPropertyKey
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    PromptMessage,
    PromptMessageTool,
    ToolPromptMessage,
    UserPromptMessage,
)

from models.llm.llm import OllamaLargeLanguageModel

from .replies import ReplyPrinter, describe_finish
from .server_models import ServerModel, can_call_tools, can_chat, can_think
from .session import Outcome, Session, choose_model

CHAT_PROMPT = "In two short sentences: why is the sky blue?"
TOOL_PROMPT = "What is 1234 + 5678? Use the add tool to work it out, then answer in one short sentence."
MAX_TOOL_ROUNDS = 3
TOOLS = [
    PromptMessageTool(
        name="add",
        description="Add two numbers and return the sum.",
        parameters={
            "type": "object",
            "properties": {
                "a": {"type": "number", "description": "The first number"},
                "b": {"type": "number", "description": "The second number"},
            },
            "required": ["a", "b"],
        },
    ),
    PromptMessageTool(
        name="get_time",
        description="The current local date and time on the user's machine.",
        parameters={"type": "object", "properties": {}},
    ),
]


def describe_llm_schema(schema: AIModelEntity | None) -> str:
    if schema is None:
        return "get_model_schema: Dify would get no schema for this model"
    mode = schema.model_properties.get(ModelPropertyKey.MODE, "?")
    context = schema.model_properties.get(ModelPropertyKey.CONTEXT_SIZE, "?")
    features = ", ".join(feature.value for feature in schema.features or []) or "none"
    return f"get_model_schema: {mode} mode, context {context} tokens, features: {features}"


def chat_step(session: Session) -> Outcome:
    terminal, credentials = session.terminal, session.credentials
    model = choose_model(
        session,
        session.args.model,
        "chat",
        [("first model with thinking", can_think), ("first chat model", can_chat)],
    )
    if model is None:
        return Outcome.SKIPPED
    llm = session.accepted(OllamaLargeLanguageModel, model)
    terminal.mark("ok", describe_llm_schema(llm.get_model_schema(model, credentials)))
    terminal.line(f"  you> {session.args.prompt}")
    messages: list[PromptMessage] = [UserPromptMessage(content=session.args.prompt)]
    reply = ReplyPrinter(terminal).print_stream(llm.invoke(model, credentials, messages, {}, stream=True))
    if not reply.answer.strip():
        terminal.mark("note", "the model sent no answer text")
    if reply.finish_reason == "length":
        terminal.mark("note", "the answer was cut off by the token limit (Max tokens / context size)")
    terminal.mark("ok", describe_finish(reply))
    return Outcome.PASSED


def run_local_tool(call: AssistantPromptMessage.ToolCall) -> str:
    """Execute one of TOOLS here, as a Dify agent would; problems go back to the model as text."""
    try:
        arguments = json.loads(call.function.arguments or "{}")
    except ValueError:
        return f"error: the arguments are not JSON: {call.function.arguments}"
    if not isinstance(arguments, dict):
        return "error: the arguments must be a JSON object"
    if call.function.name == "get_time":
        return datetime.now().astimezone().isoformat(timespec="seconds")
    if call.function.name == "add":
        try:
            total = float(arguments["a"]) + float(arguments["b"])
        except (KeyError, TypeError, ValueError):
            return 'error: add needs two numbers, e.g. {"a": 1, "b": 2}'
        return str(int(total)) if total.is_integer() else str(total)
    return f"error: there is no tool named '{call.function.name}'"


def no_tool_call_advice(model: str, known: ServerModel | None, *, thinking_off: bool) -> str:
    """Why answering without a tool call fails this step, and what to try."""
    advice = (
        f"'{model}' answered without calling the add tool, so in a Dify agent its tools would never run. Use a "
        "model with the 'tools' capability that calls tools reliably (--tool-model, e.g. qwen3:8b or llama3.1:8b); "
        "small models often answer directly."
    )
    if known is not None and known.has("thinking") and not thinking_off:
        advice += (
            " Small thinking models call tools more reliably with thinking off: rerun with --tool-no-think, and in "
            "Dify switch the model's Thinking parameter off."
        )
    return advice


def tool_step(session: Session) -> Outcome:
    terminal, credentials, args = session.terminal, session.credentials, session.args
    given = args.tool_model
    if given is None and args.model:
        known = session.known(args.model)
        if known is not None and known.has("tools") is not False:
            given = args.model
    model = choose_model(session, given, "tools", [("first chat model with tool calling", can_call_tools)])
    if model is None:
        return Outcome.SKIPPED
    llm = session.accepted(OllamaLargeLanguageModel, model)
    schema = llm.get_model_schema(model, credentials)
    terminal.mark("ok", describe_llm_schema(schema))
    if schema is not None and ModelFeature.TOOL_CALL not in (schema.features or []):
        terminal.mark(
            "skip",
            f"Dify would not give tools to '{model}' (no tool-call feature): Ollama does not list 'tools' for it, "
            "or 'Tool calling support' is No. Pick a model with tools, e.g. qwen3 or llama3.2.",
        )
        return Outcome.SKIPPED
    terminal.line(f"  tools: {', '.join(tool.name for tool in TOOLS)}")
    terminal.line(f"  you> {args.tool_prompt}")
    messages: list[PromptMessage] = [UserPromptMessage(content=args.tool_prompt)]
    parameters = {"think": False} if args.tool_no_think else {}
    calls_made = 0
    for _ in range(MAX_TOOL_ROUNDS):
        reply = ReplyPrinter(terminal).print_stream(
            llm.invoke(model, credentials, messages, parameters, TOOLS, stream=True)
        )
        if not reply.tool_calls:
            break
        # Sent back as Dify's agent does: the assistant turn with its calls, then one tool message per call.
        messages.append(AssistantPromptMessage(content=reply.content, tool_calls=reply.tool_calls))
        for call in reply.tool_calls:
            result = run_local_tool(call)
            terminal.line(f"  tool call    {call.function.name}({call.function.arguments})  id {call.id}", "cyan")
            terminal.line(f"  tool result  {result}", "cyan")
            messages.append(ToolPromptMessage(content=result, tool_call_id=call.id, name=call.function.name))
        calls_made += len(reply.tool_calls)
    else:
        terminal.mark("note", f"the model still called tools after {MAX_TOOL_ROUNDS} rounds; stopped there")
    if calls_made == 0:
        terminal.mark("fail", no_tool_call_advice(model, session.known(model), thinking_off=args.tool_no_think))
        return Outcome.FAILED
    terminal.mark("ok", f"{calls_made} tool call(s) executed; {describe_finish(reply)}")
    return Outcome.PASSED
