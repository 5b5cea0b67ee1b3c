"""The memory-hygiene scenario (issue 10): a user states a fact once, then asks about it in
differently-worded questions, through each adapter's real agent loop on the framework's fake
model. Each fake model (a stand-in for an LLM) answers from what it was told: "Your dog is
called Rex." when the fact reached its instructions, else "Noted.".

Used by ``tests/adapters/test_hygiene_adapters.py`` and ``benchmarks/hygiene.py``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mnemoplug import Memory

FACT = "My dog is called Rex."
ASKS = [
    "What is my dog called?",
    "Remind me of my dog's name.",
    "Do you remember what my pet is called?",
    "What's the name of my dog?",
    "Which name did I give my dog?",
    "How is my puppy called?",
    "Can you tell me my dog's name?",
    "Who is my dog?",
    "What do I call my pet?",
    "Tell me the name of my four-legged friend.",
    "Any idea what my dog's name is?",
    "What name does my dog answer to?",
]
ADAPTERS = ("pydantic_ai", "langchain", "agno", "endpoint")


#: answers of a model that words its answer differently every time (``vary=True``)
VARIED_ANSWERS = [
    "Your dog is called Rex.",
    "Your dog's name is Rex.",
    "Rex is your dog's name.",
    "You told me your dog is called Rex.",
    "Your pet is Rex.",
    "That would be Rex!",
    "Your dog? Rex.",
    "It's Rex, your dog.",
    "Rex, of course.",
    "I believe your dog is named Rex.",
    "You have a dog called Rex.",
    "Rex is the name.",
]


def answer_from(told: str) -> str:
    """The fake model's answer: it knows the dog's name only when it was told the fact."""
    return "Your dog is called Rex." if "Rex" in told else "Noted."


def varied_answers() -> Callable[[str], str]:
    answers = iter(VARIED_ANSWERS * 2)
    return lambda told: next(answers) if "Rex" in told else "Noted."


@dataclass
class Run:
    """Per ask: the fact's rank among the memories searched for it (1 = first; None = not in
    the top 20), and whether the fact reached the model."""

    ranks: list[int | None] = field(default_factory=list)
    told: list[bool] = field(default_factory=list)


async def fact_rank(memory: Memory, user: str, query: str) -> int | None:
    hits = await memory.search(user, query, limit=20)
    for i, h in enumerate(hits, 1):
        if h.content == FACT:
            return i
    return None


async def run_scenario(
    adapter: str, memory: Memory, user: str = "u1", *, vary: bool = False
) -> Run:
    """State the fact, then ask every question in ``ASKS`` through ``adapter`` (``vary``: the
    model words each answer differently)."""
    ask, told = _RUNNERS[adapter](memory, user, varied_answers() if vary else answer_from)
    await ask(FACT)
    run = Run()
    for q in ASKS:
        run.ranks.append(await fact_rank(memory, user, q))
        await ask(q)
        run.told.append(FACT in told())
    return run


Runner = tuple[Callable[[str], Awaitable[Any]], Callable[[], str]]


def _pydantic_ai(memory: Memory, user: str, answer: Callable[[str], str]) -> Runner:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    from mnemoplug.adapters.pydantic_ai import MnemoplugCapability

    seen: list[str] = [""]

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen[0] = info.instructions or ""
        return ModelResponse(parts=[TextPart(answer(seen[0]))])

    agent = Agent(FunctionModel(model), capabilities=[MnemoplugCapability(memory, user_id=user)])
    return (lambda q: agent.run(q)), (lambda: seen[0])


def _langchain(memory: Memory, user: str, answer: Callable[[str], str]) -> Runner:
    from langchain.agents import create_agent
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    from mnemoplug.adapters.langchain import MnemoplugMiddleware

    seen: list[str] = [""]

    class AnsweringModel(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> AnsweringModel:  # type: ignore[override]
            return self

        def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
            seen[0] = "\n".join(m.text for m in messages if isinstance(m, SystemMessage))
            msg = AIMessage(content=answer(seen[0]))
            return ChatResult(generations=[ChatGeneration(message=msg)])

    agent = create_agent(
        AnsweringModel(messages=iter(())),
        tools=[],
        system_prompt="You are helpful.",
        middleware=[MnemoplugMiddleware(memory)],
    )

    async def ask(q: str) -> Any:
        return await agent.ainvoke(
            {"messages": [{"role": "user", "content": q}]}, context={"user_id": user}
        )

    return ask, (lambda: seen[0])


def _agno(memory: Memory, user: str, answer: Callable[[str], str]) -> Runner:
    from agno.agent import Agent

    from mnemoplug.adapters.agno import with_memory

    from .agno_fakes import FakeAgnoModel

    class AnsweringAgnoModel(FakeAgnoModel):
        def _answer(self, messages: list[Any]) -> str:
            super()._answer(messages)
            return answer(self.last_system)

    model = AnsweringAgnoModel()
    agent = with_memory(Agent(model=model, telemetry=False), memory)
    return (lambda q: agent.arun(q, user_id=user)), (lambda: model.last_system)


def _endpoint(memory: Memory, user: str, answer: Callable[[str], str]) -> Runner:
    from mnemoplug.adapters.endpoint import AgentContext, agent_endpoint

    seen: list[str] = [""]

    @agent_endpoint(memory=memory)
    async def chat(user_id: str, message: str, ctx: AgentContext) -> str:
        seen[0] = ctx.memory_text
        return answer(seen[0])

    return (lambda q: chat(user_id=user, message=q)), (lambda: seen[0])


_RUNNERS: dict[str, Callable[[Memory, str, Callable[[str], str]], Runner]] = {
    "pydantic_ai": _pydantic_ai,
    "langchain": _langchain,
    "agno": _agno,
    "endpoint": _endpoint,
}
