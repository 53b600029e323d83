"""config.transformers.yml: the local-weights featurizer, tested on a tiny BERT built here.

The test creates a BERT with tiny sizes and a tiny vocabulary itself (nothing is
downloaded), saves it with ``save_pretrained`` and checks that the featurizer of
``config.transformers.yml`` loads it from the path in ``KDBOT_LM_WEIGHTS`` and produces
token and sentence features of the model's hidden size.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = 16
# Rasa adds BERT's [CLS]/[SEP] by their standard ids (101/102): keep BERT's vocab layout.
VOCAB = (["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
         + ["wo", "ist", "meine", "bestellung", "paket", "##en", "lieferung", "where", "is",
            "my", "order", "?"])


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import BertConfig, BertTokenizer, TFBertModel

    target = tmp_path_factory.mktemp("tiny-bert")
    vocab = target / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n")
    BertTokenizer(str(vocab), do_lower_case=True).save_pretrained(target)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=HIDDEN, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32,
                        max_position_embeddings=64)
    model = TFBertModel(config)
    model(model.dummy_inputs)  # builds the weights
    model.save_pretrained(target)
    return target


def featurizer_config() -> dict:
    config = yaml.safe_load((ROOT / "config.transformers.yml").read_text())
    entries = [c for c in config["pipeline"] if c["name"].endswith("LocalLanguageModelFeaturizer")]
    assert len(entries) == 1
    return {k: v for k, v in entries[0].items() if k != "name"}


def make_featurizer(config: dict):
    from rasa.engine.graph import ExecutionContext, GraphSchema

    from bot.components.local_lm import LocalLanguageModelFeaturizer

    return LocalLanguageModelFeaturizer.create(
        {**LocalLanguageModelFeaturizer.get_default_config(), **config}, None, None,  # type: ignore[arg-type]
        ExecutionContext(GraphSchema({}), "test"))


def test_featurizer_loads_local_tiny_bert_and_featurizes(
        tiny_bert: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message

    config = featurizer_config()
    monkeypatch.setenv(config["weights_env"], str(tiny_bert))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # prove that nothing is fetched
    featurizer = make_featurizer(config)
    assert featurizer.model.config.hidden_size == HIDDEN

    message = Message(data={"text": "wo ist meine bestellung"})
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    featurizer.process([message])
    sequence, sentence = message.get_dense_features("text")
    assert sequence is not None and sentence is not None
    assert sequence.features.shape == (4, HIDDEN)
    assert sentence.features.shape == (1, HIDDEN)
    assert abs(sentence.features).sum() > 0


def test_missing_weights_variable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.components.local_lm import LocalWeightsError

    config = featurizer_config()
    monkeypatch.delenv(config["weights_env"], raising=False)
    with pytest.raises(LocalWeightsError, match=config["weights_env"]):
        make_featurizer(config)


def test_directory_without_a_model_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.components.local_lm import LocalWeightsError

    config = featurizer_config()
    monkeypatch.setenv(config["weights_env"], str(tmp_path))
    with pytest.raises(LocalWeightsError, match="config.json"):
        make_featurizer(config)
