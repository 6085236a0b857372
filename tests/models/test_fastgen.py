"""GraphDecoder (static cache, CUDA graph on GPUs) against generate(), token for token, on the CPU."""
import pytest
import torch

from qinstruct.models.chat import GenerationOptions, Turn, batch_inputs, prompt_text
from qinstruct.models.fastgen import GraphDecoder, supports
from qinstruct.models.loading import load_model


@pytest.mark.parametrize("family", ["llava", "idefics3"])
def test_same_tokens_as_generate_with_left_padding(family, photos):
    model = load_model(f"tiny:{family}")
    texts = [prompt_text(model, [Turn("Describe the image.")], True),
             prompt_text(model, [Turn("Hi", "Hello, how can I help?"), Turn("Is it clear?")], True)]
    inputs = batch_inputs(model, texts, photos[:2])
    assert (inputs["attention_mask"] == 0).any()  # the shorter prompt is left-padded
    with torch.inference_mode():
        expected = model.model.generate(**inputs, max_new_tokens=24, do_sample=False, eos_token_id=None,
                                        pad_token_id=model.tokenizer.pad_token_id)[:, inputs["input_ids"].shape[1]:]
    decoder = GraphDecoder(model.model, batch=2, max_len=256)
    assert decoder.graph is None  # no CUDA here: the same loop runs eagerly
    assert torch.equal(decoder.generate(inputs, 24), expected)
    assert torch.equal(decoder.generate(inputs, 24), expected)  # reusable: the cache is reset per call


def test_eos_ends_rows(photos):
    model = load_model("tiny:llava")
    inputs = batch_inputs(model, [prompt_text(model, [Turn("Describe.")], True)], photos[:1])
    free = GraphDecoder(model.model, batch=1, max_len=128).generate(inputs, 20)
    eos = int(free[0, 3])  # pretend the 4th generated token is the end of sequence
    stopped = GraphDecoder(model.model, batch=1, max_len=128).generate(inputs, 20, eos_token_id=eos, sync_every=1)
    assert stopped.shape[1] <= 5 and int(stopped[0, 3]) == eos


def test_unsupported_families_are_refused():
    qwen = load_model("tiny:qwen2-vl")
    assert not supports(qwen.model)
    with pytest.raises(ValueError, match="does not support qwen2_vl"):
        GraphDecoder(qwen.model, batch=1)


def _storage_bytes(model) -> int:
    """Bytes held by the model's parameters, each storage counted once (views share theirs)."""
    storages = {p.untyped_storage().data_ptr(): p.untyped_storage().nbytes() for p in model.parameters()}
    return sum(storages.values())


def test_fused_and_generic_steps_agree_and_fusing_keeps_one_copy(photos):
    model = load_model("tiny:llava")
    inputs = batch_inputs(model, [prompt_text(model, [Turn("Describe the image.")], True)] * 2, photos[:2])
    before = _storage_bytes(model.model)
    generic = GraphDecoder(model.model, batch=2, max_len=256, fuse=False)
    fused = GraphDecoder(model.model, batch=2, max_len=256)
    assert generic.fused is None and fused.fused is not None and fused.unfused_reason is None
    single = GraphDecoder(model.model, batch=1, max_len=128)  # another decoder of the same model shares them
    assert _storage_bytes(model.model) == before  # q/k/v and gate/up are views into the fused matrices
    assert single.fused.layers[1].gate_up.weight is fused.fused.layers[1].gate_up.weight
    layer = fused.fused.layers[0]
    attention = model.model.model.language_model.layers[0].self_attn
    assert attention.k_proj.weight.untyped_storage().data_ptr() == layer.qkv.weight.untyped_storage().data_ptr()
    assert torch.equal(fused.generate(inputs, 20), generic.generate(inputs, 20))
    # the same logits step by step (tokens alone are too coarse a check on a tiny random model)
    with torch.inference_mode():
        tokens = [decoder.prefill(inputs)[:, None] for decoder in (generic, fused)]
        for _ in range(6):
            logits = []
            for decoder, token in zip((generic, fused), tokens):
                decoder.buffers.tokens.copy_(token)
                logits.append(decoder.step_logits())
                decoder.buffers.positions += 1
                decoder.buffers.cache_position += 1
            torch.testing.assert_close(logits[1], logits[0], rtol=1e-4, atol=1e-5)
            tokens = [logits[0].argmax(-1, keepdim=True)] * 2


def _adapter_model(targets: str, seed: int = 5, **extra):
    from peft import LoraConfig, get_peft_model

    from qinstruct.models.families import tiny_model

    base, processor = tiny_model("llava", seed=seed)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=targets, init_lora_weights=False, **extra)
    torch.manual_seed(seed)
    return get_peft_model(base, config, adapter_name="tuned").eval(), processor


# q/k/v/gate/up fuse their LoRA A into the group's product; o_proj and down_proj keep peft's layer (row-scaled)
ALL_LINEAR = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


@pytest.mark.parametrize("targets", [r".*language_model.*\.(q_proj|v_proj)", ALL_LINEAR])
def test_rows_with_and_without_the_adapter_match_base_and_merged(targets, photos):
    peft_model, processor = _adapter_model(targets)
    text = processor.apply_chat_template([{"role": "user", "content": [{"type": "image"},
                                                                       {"type": "text", "text": "Is it clear?"}]}],
                                         add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text, text], images=[photos[0], photos[0]], return_tensors="pt", padding=True)
    one = {k: v[:1] for k, v in inputs.items()}
    before = _storage_bytes(peft_model)
    decoder = GraphDecoder(peft_model, batch=2, max_len=256, adapter_names=["__base__", "tuned"])
    tuned_only = GraphDecoder(peft_model, batch=1, max_len=256)  # peft's active adapter on every row
    assert decoder.fused is not None and _storage_bytes(peft_model) == before  # LoRA A rows are views too
    assert torch.equal(tuned_only.generate(one, 16)[0], decoder.generate(dict(inputs), 16)[1])
    both = decoder.generate(dict(inputs), 16)
    with torch.inference_mode(), peft_model.disable_adapter():
        base = GraphDecoder(peft_model, batch=1, max_len=256, fuse=False).generate(one, 16)
    merged = peft_model.merge_and_unload()
    tuned = GraphDecoder(merged, batch=1, max_len=256, fuse=False).generate(one, 16)
    assert torch.equal(both[0], base[0]) and torch.equal(both[1], tuned[0])
    assert not torch.equal(base, tuned)


@pytest.mark.parametrize("fuse", [True, False])
def test_several_adapters_on_different_layers_match_peft_mixed_batches(photos, fuse):
    from peft import LoraConfig

    peft_model, processor = _adapter_model(r".*language_model.*\.(q_proj|v_proj)")
    other = LoraConfig(r=6, lora_alpha=3, target_modules=r".*language_model.*\.(k_proj|v_proj|up_proj)",
                       init_lora_weights=False)
    peft_model.add_adapter("other", other)
    names = ["tuned", "__base__", "other"]
    inputs = processor(text=["<image>\nWhat is blurred?"] * 3, images=[photos[2]] * 3, return_tensors="pt")
    with torch.inference_mode():
        expected = peft_model.generate(**inputs, adapter_names=names, max_new_tokens=12, do_sample=False,
                                       eos_token_id=None)[:, inputs["input_ids"].shape[1]:]
    decoder = GraphDecoder(peft_model, batch=3, max_len=128, adapter_names=names, fuse=fuse)
    assert (decoder.fused is not None) == fuse
    assert len({tuple(row) for row in expected.tolist()}) == 3  # each adapter changes the answer
    assert torch.equal(decoder.generate(dict(inputs), 12), expected)
    assert peft_model.active_adapters == ["tuned"]  # restored for other users of the model


def test_unfusable_adapters_fall_back_to_the_generic_step(photos):
    peft_model, processor = _adapter_model(r".*language_model.*\.(q_proj|v_proj)", use_dora=True)
    inputs = processor(text=["<image>\nHi"], images=[photos[1]], return_tensors="pt")
    decoder = GraphDecoder(peft_model, batch=1, max_len=256)
    assert decoder.fused is None and "DoRA" in decoder.unfused_reason
    with torch.inference_mode():
        expected = peft_model.generate(**inputs, max_new_tokens=12, do_sample=False, eos_token_id=None)
    assert torch.equal(decoder.generate(dict(inputs), 12)[0], expected[0, inputs["input_ids"].shape[1]:])


def test_cache_length_fits_the_request_and_warm_up_builds_the_decoder_a_first_question_uses(photos, monkeypatch):
    from qinstruct.models import chat, fastgen

    assert fastgen.fast_cache_length(600, 256) == 1024 and fastgen.fast_cache_length(900, 256) == 2048
    assert fastgen.fast_cache_length(fastgen.FAST_CACHE_LENGTHS[-1], 1) is None  # too long: generate() serves it
    monkeypatch.setattr(fastgen, "FAST_CACHE_LENGTHS", (320, 512))  # tiny prompts are ~50 tokens
    model = load_model("tiny:llava")
    assert chat.use_fast_path(model, GenerationOptions()) and not chat.use_fast_path(model, GenerationOptions(
        temperature=0.7))
    chat.warm_up(model)
    assert not hasattr(model, "_decoders")  # nothing to compile on a CPU
    chat.warm_up(model, even_on_cpu=True)
    assert list(model._decoders) == [(1, 320, ())]  # sized for the default 256-token answer
    warmed = model._decoders[(1, 320, ())]
    question = [Turn("Is this image clear?")]
    assert "".join(model.stream(question, photos[0], GenerationOptions()))
    assert list(model._decoders) == [(1, 320, ())] and model._decoders[(1, 320, ())] is warmed
    assert "".join(model.stream(question, photos[0], GenerationOptions(max_new_tokens=400, seed=1)))
    assert list(model._decoders) == [(1, 320, ()), (1, 512, ())]
    list(model.stream(question, photos[0], GenerationOptions(max_new_tokens=600)))
    assert len(model._decoders) == 2  # no cache length holds it: generate() answered


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: compiled step, CUDA graph")


@needs_cuda
def test_compiled_graph_step_matches_generate_on_cuda(photos):
    from qinstruct.models.loading import LoadOptions

    model = load_model("tiny:llava", LoadOptions(device="cuda", dtype="float32"))
    inputs = batch_inputs(model, [prompt_text(model, [Turn("Describe the image.")], True)] * 2, photos[:2])
    with torch.inference_mode():
        expected = model.model.generate(**inputs, max_new_tokens=24, do_sample=False, eos_token_id=None,
                                        pad_token_id=model.tokenizer.pad_token_id)[:, inputs["input_ids"].shape[1]:]
    for fuse in (True, False):
        decoder = GraphDecoder(model.model, batch=2, max_len=256, compile_step=True, fuse=fuse)
        assert torch.equal(decoder.generate(inputs, 24), expected)
        assert decoder.graph is not None and (decoder.fused is not None) == fuse


def _llava_with_text(text_config):
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration

    torch.manual_seed(0)
    config = LlavaConfig(vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                                        num_attention_heads=2, image_size=32, patch_size=8),
                         text_config=text_config, image_token_id=299)
    model = LlavaForConditionalGeneration(config).eval()
    ids = torch.cat([torch.full((2, 16), 299), torch.randint(3, 290, (2, 7))], dim=1)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "pixel_values": torch.randn(2, 3, 32, 32)}
    return model, inputs


TEXT_SHAPE = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "vocab_size": 300, "max_position_embeddings": 512}


@pytest.mark.parametrize("text", ["qwen2", "mistral"])
def test_fused_step_of_other_text_decoders_matches_generate(text):
    """LLaVA-layout models with a Qwen2 (biases on q/k/v, as LLaVA-Interleave-Qwen) or Mistral language model."""
    from transformers import MistralConfig, Qwen2Config

    model, inputs = _llava_with_text(Qwen2Config(**TEXT_SHAPE) if text == "qwen2" else MistralConfig(**TEXT_SHAPE))
    if text == "qwen2":
        for layer in model.model.language_model.layers:  # random init leaves biases at 0: make them matter
            for projection in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                torch.nn.init.normal_(projection.bias, std=0.5)
    with torch.inference_mode():
        expected = model.generate(**inputs, max_new_tokens=16, do_sample=False, eos_token_id=None,
                                  pad_token_id=0)[:, inputs["input_ids"].shape[1]:]
    decoder = GraphDecoder(model, batch=2, max_len=64)
    generic = GraphDecoder(model, batch=2, max_len=64, fuse=False)
    assert decoder.fused is not None
    assert (decoder.fused.layers[0].qkv.bias is not None) == (text == "qwen2")
    assert torch.equal(decoder.generate(inputs, 16), expected)
    with torch.inference_mode():
        for step in (decoder, generic):
            step.buffers.tokens.copy_(step.prefill(inputs)[:, None])
        torch.testing.assert_close(decoder.step_logits(), generic.step_logits(), rtol=1e-4, atol=1e-5)


def test_a_window_smaller_than_the_cache_is_left_to_generate():
    from transformers import MistralConfig

    assert supports(_llava_with_text(MistralConfig(**TEXT_SHAPE, sliding_window=4096))[0])
    assert not supports(_llava_with_text(MistralConfig(**TEXT_SHAPE, sliding_window=128))[0])


@needs_cuda
def test_compiled_graph_pair_rows_match_the_eager_step_on_cuda(photos):
    peft_model, processor = _adapter_model(ALL_LINEAR)
    peft_model.to("cuda")
    names = ["__base__", "tuned"]
    inputs = processor(text=["<image>\nIs it sharp?"] * 2, images=[photos[3]] * 2, return_tensors="pt").to("cuda")
    eager = GraphDecoder(peft_model, batch=2, max_len=128, adapter_names=names, use_graph=False)
    graphed = GraphDecoder(peft_model, batch=2, max_len=128, adapter_names=names, compile_step=True)
    expected = eager.generate(dict(inputs), 16)
    assert graphed.graph is None and not torch.equal(expected[0], expected[1])
    assert torch.equal(graphed.generate(dict(inputs), 16), expected) and graphed.graph is not None
