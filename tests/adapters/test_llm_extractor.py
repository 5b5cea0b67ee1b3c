"""llm_extractor driving PydanticAI's FunctionModel and a LangChain fake chat model (stand-ins
for the user's LLM), with well-formed, malformed and hostile answers (issue 10 item 4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("pydantic_ai")
pytest.importorskip("langchain_core")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from mnemoplug import ConfigurationError, Memory, llm_extractor
from mnemoplug.adapters.llm_extractor import EXTRACTION_PROMPT
from mnemoplug.adapters.pydantic_ai import MnemoplugCapability

Answer = Callable[[dict[str, Any]], str]


class Seen:
    """What the fake model was sent: its system prompt and the JSON payload."""

    def __init__(self) -> None:
        self.system = ""
        self.payload: dict[str, Any] = {}


def pydantic_model(answer: Answer, seen: Seen) -> FunctionModel:
    def fn(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        seen.system = last.instructions or ""
        seen.payload = json.loads(str(last.parts[-1].content))  # type: ignore[union-attr]
        return ModelResponse(parts=[TextPart(answer(seen.payload))])

    return FunctionModel(fn)


def langchain_model(answer: Answer, seen: Seen) -> GenericFakeChatModel:
    class Answering(GenericFakeChatModel):
        def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
            seen.system = messages[0].text
            seen.payload = json.loads(messages[-1].text)
            msg = AIMessage(content=answer(seen.payload))
            return ChatResult(generations=[ChatGeneration(message=msg)])

    return Answering(messages=iter(()))


MODELS = {"pydantic_ai": pydantic_model, "langchain": langchain_model}


@pytest.fixture(params=list(MODELS))
def make(request: Any, embedder: Any) -> Callable[[Answer], tuple[Memory, Seen]]:
    def build(answer: Answer) -> tuple[Memory, Seen]:
        seen = Seen()
        model = MODELS[request.param](answer, seen)
        memory = Memory(
            "memory://",
            embedder=embedder,
            load_entry_points=False,
            extractor=llm_extractor(model),
        )
        return memory, seen

    return build


def ops_json(*ops: dict[str, Any]) -> str:
    return json.dumps({"operations": list(ops)})


TURN = [
    {"role": "user", "content": "We renamed our dog: he is Max now. What do you think?"},
    {"role": "assistant", "content": "Max is a great name."},
]


async def test_add_update_delete_from_the_model(make: Any) -> None:
    def answer(payload: dict[str, Any]) -> str:
        by_content = {m["content"]: m["id"] for m in payload["memories"]}
        return ops_json(
            {
                "op": "update",
                "id": by_content["My dog is called Rex."],
                "content": "My dog is Max.",
            },
            {"op": "delete", "id": by_content["Rex sleeps in the kitchen."]},
            {"op": "add", "content": "The user renamed the dog recently."},
            {"op": "none"},
        )

    memory, seen = make(answer)
    rex = await memory.add("u1", "My dog is called Rex.")
    await memory.add("u1", "Rex sleeps in the kitchen.")
    ops = await memory.remember("u1", TURN)
    assert [o.kind for o in ops] == ["update", "delete", "add", "none"]
    assert ops[0].memory_id == rex
    assert seen.system == EXTRACTION_PROMPT
    assert seen.payload["turn"] == TURN
    assert {m["id"] for m in seen.payload["memories"]} <= {str(i) for i in range(10)}
    assert rex not in json.dumps(seen.payload)  # real ids never reach the model
    assert sorted(m.content for m in await memory.get_all("u1")) == [
        "My dog is Max.",
        "The user renamed the dog recently.",
    ]


async def test_a_fenced_answer_and_nothing_to_remember(make: Any) -> None:
    memory, _ = make(lambda p: '```json\n{"operations": []}\n```')
    assert await memory.remember("u1", TURN) == []
    assert await memory.count("u1") == 0


@pytest.mark.parametrize(
    "bad",
    [
        "Sure! I will remember that.",
        '{"operations": {"op": "add"}}',
        '[{"op": "add", "content": "x"}]',
        ops_json({"op": "merge", "content": "x"}),
        ops_json({"op": "add", "content": ""}),
        ops_json({"op": "update", "id": "7", "content": "x"}),
        '{"operations": [{"op": "add", "content": "x"}',
    ],
)
async def test_malformed_answers_store_the_turn(make: Any, bad: str) -> None:
    memory, _ = make(lambda p: bad)
    await memory.add("u1", "My dog is called Rex.")
    ops = await memory.remember("u1", TURN)
    assert [(o.kind, o.content) for o in ops] == [
        ("add", TURN[0]["content"]),
        ("add", TURN[1]["content"]),
    ]
    assert await memory.count("u1") == 3


async def test_hostile_answers_cannot_reach_another_user(make: Any) -> None:
    victim: dict[str, str] = {}

    def answer(payload: dict[str, Any]) -> str:
        return ops_json(
            {"op": "delete", "id": victim["id"]},
            {"op": "update", "id": victim["id"], "content": "pwned"},
        )

    memory, seen = make(answer)
    victim["id"] = await memory.add("bob", "My dog is called Rex.")
    await memory.add("alice", "My dog is called Rex.")
    ops = await memory.remember("alice", TURN)
    assert [o.kind for o in ops] == ["add", "add"]  # malformed: alice's turn is stored
    assert all(m["content"] != "pwned" for m in seen.payload["memories"])
    bob = await memory.get("bob", victim["id"])
    assert bob is not None and bob.content == "My dog is called Rex."
    assert await memory.count("bob") == 1


async def test_through_the_pydantic_ai_adapter(embedder: Any) -> None:
    """The agent's own model answers; the extraction model decides what is kept."""
    seen = Seen()
    extraction = pydantic_model(
        lambda p: ops_json({"op": "add", "content": "The user's dog is called Rex."}), seen
    )
    memory = Memory(
        "memory://", embedder=embedder, load_entry_points=False, extractor=llm_extractor(extraction)
    )

    def chat(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart("Nice name!")])

    agent = Agent(FunctionModel(chat), capabilities=[MnemoplugCapability(memory, user_id="u1")])
    await agent.run("My dog is called Rex.")
    assert seen.payload["turn"][0] == {"role": "user", "content": "My dog is called Rex."}
    assert [m.content for m in await memory.get_all("u1")] == ["The user's dog is called Rex."]


def test_other_models_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="PydanticAI model or a LangChain chat model"):
        llm_extractor(object())
