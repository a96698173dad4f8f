"""Build the clinic language model for pocketsphinx: the clinic corpus mixed with general English.

    .venv/bin/python -m ivr.speech.lm        # writes ivr/speech/data/clinic-en.{lm.bin,dict,json}

The domain model is a trigram model with interpolated absolute discounting, trained on
ivr/speech/corpus.py (never on the reference voicemails). It is mixed linearly (weight DOMAIN_WEIGHT)
with the general English trigram model bundled in pocketsphinx's wheel, restricted to the domain
words plus the GENERAL_WORDS most frequent English words, so words the corpus never saw still work.
The mixture keeps the domain's n-grams and general English's bigrams among its GENERAL_BIGRAM_WORDS
most frequent words; other word sequences back off to the mixed unigrams. Takes about a minute.
The result is written as ARPA, then converted to pocketsphinx's binary format, with a dictionary
cut down to the model's words (pronunciations from the bundled CMU dictionary).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
DOMAIN_WEIGHT = 0.7  # chosen before measuring; not tuned on the reference set
GENERAL_WORDS = 8000
GENERAL_BIGRAM_WORDS = 4000  # general English bigrams among this many most frequent words join the model
DISCOUNT = 0.75
CORPUS_SIZE = 20_000
ORDER = 3
LOG10 = math.log(10)


class GeneralModel:
    """pocketsphinx's bundled general English trigram model, queried in C (its ARPA export crashes)."""

    def __init__(self, path: Path) -> None:
        self.lm = _load_ngram(path)
        self.scale = math.log10(1.0001)  # pocketsphinx's default log base
        self.vocab: set[str] = set()
        self.uni_norm = 1.0

    def restrict(self, vocab: set[str]) -> None:
        """Renormalise unigrams over ``vocab`` (the mixture's words)."""
        self.vocab = vocab
        self.uni_norm = sum(self.p((w,)) for w in vocab) + self.p(("</s>",))

    def explicit_bigrams(self, words: list[str]) -> set[tuple[str, str]]:
        """The bigrams among ``words`` the model stores (not backed off to unigrams).

        A stored bigram's score differs from backoff weight + unigram score; the backoff weight of a
        history is read off rare words (pocketsphinx's Python API cannot list a model's n-grams, and
        its ARPA export crashes on this model).
        """
        prob = self.lm.prob
        uni = {w: prob([w]) for w in words + ["</s>"]}
        rare = ["zuercher", "zug", "aardvark"]
        rare_uni = [prob([r]) for r in rare]
        found: set[tuple[str, str]] = set()
        for h in ["<s>"] + words:
            offsets = [prob([r, h]) - u for r, u in zip(rare, rare_uni)]
            bow = sorted(offsets)[1]
            for w, u in uni.items():
                if abs(prob([w, h]) - u - bow) > 2:  # scores are rounded: off by one is a backoff
                    found.add((h, w))
        return found

    def p(self, words: tuple[str, ...]) -> float:
        if words[-1] == "<s>":
            return 0.0
        lp = self.lm.prob(list(reversed(words))) * self.scale
        p = 10**lp if lp > -90 else 0.0
        return p / self.uni_norm if len(words) == 1 else p


class DiscountedModel:
    """Interpolated absolute discounting trigram model from sentence counts."""

    def __init__(self, sentences: list[list[str]], vocab: list[str], discount: float = DISCOUNT) -> None:
        self.d = discount
        self.counts: list[Counter] = [Counter() for _ in range(ORDER)]
        for words in sentences:
            seq = ["<s>"] + words + ["</s>"]
            for n in range(1, ORDER + 1):
                for i in range(len(seq) - n + 1):
                    self.counts[n - 1][tuple(seq[i : i + n])] += 1
        self.ctx_total: list[Counter] = [Counter() for _ in range(ORDER)]
        self.ctx_types: list[Counter] = [Counter() for _ in range(ORDER)]
        for n in range(2, ORDER + 1):
            for gram, c in self.counts[n - 1].items():
                self.ctx_total[n - 1][gram[:-1]] += c
                self.ctx_types[n - 1][gram[:-1]] += 1
        uni = self.counts[0]
        total = sum(c for w, c in uni.items() if w != ("<s>",))
        k = 0.5  # add-k for words of the vocabulary the corpus never used
        self.unigram = {w: (uni.get((w,), 0) + k) / (total + k * len(vocab)) for w in vocab}

    def p(self, words: tuple[str, ...]) -> float:
        n = len(words)
        if n == 1:
            return self.unigram.get(words[0], 0.0)
        ctx = words[:-1]
        total = self.ctx_total[n - 1].get(ctx, 0)
        lower = self.p(words[1:])
        if not total:
            return lower
        c = self.counts[n - 1].get(words, 0)
        return max(c - self.d, 0) / total + self.d * self.ctx_types[n - 1][ctx] / total * lower


def mix_to_arpa(domain: DiscountedModel, general: GeneralModel, vocab: list[str], weight: float, out: Path, extra_bigrams: set) -> dict:
    """Write the linear mixture of two models as an ARPA backoff model over the union of their n-grams."""

    def p_mix(words: tuple[str, ...]) -> float:
        return weight * domain.p(words) + (1 - weight) * general.p(words)

    grams: list[set] = [set((w,) for w in vocab) | {("<s>",), ("</s>",)}]
    for n in range(2, ORDER + 1):
        grams.append({g for g in domain.counts[n - 1] if all(w in general.vocab or w in ("<s>", "</s>") for w in g)})
    grams[1] |= extra_bigrams
    probs: list[dict] = []
    for n, gs in enumerate(grams, start=1):
        probs.append({g: p_mix(g) for g in gs if g[-1] != "<s>"})
    uni_total = sum(probs[0].values())
    probs[0] = {g: p / uni_total for g, p in probs[0].items()}
    probs[0][("<s>",)] = 0.0  # never predicted; written as -99
    bows: list[dict] = [{} for _ in range(ORDER)]
    for n in range(2, ORDER + 1):
        seen: dict[tuple, list] = defaultdict(list)
        for g in probs[n - 1]:
            seen[g[:-1]].append(g)
        for ctx, gs in seen.items():
            num = 1.0 - sum(probs[n - 1][g] for g in gs)
            den = 1.0 - sum(_lookup(probs, bows, g[1:]) for g in gs)
            if num > 1e-6 and den > 1e-6:
                bows[n - 2][ctx] = math.log10(num / den)
            else:
                bows[n - 2][ctx] = -2.0
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("\\data\\\n")
        for n in range(ORDER):
            fh.write(f"ngram {n + 1}={len(probs[n])}\n")
        for n in range(ORDER):
            fh.write(f"\n\\{n + 1}-grams:\n")
            for g in sorted(probs[n]):
                p = probs[n][g]
                lp = math.log10(p) if p > 0 else -99.0
                line = f"{lp:.4f}\t{' '.join(g)}"
                if n < ORDER - 1:
                    line += f"\t{bows[n].get(g, 0.0):.4f}"
                fh.write(line + "\n")
        fh.write("\n\\end\\\n")
    return {f"{n + 1}-grams": len(probs[n]) for n in range(ORDER)}


def _lookup(probs: list[dict], bows: list[dict], words: tuple[str, ...]) -> float:
    n = len(words)
    p = probs[n - 1].get(words)
    if p is not None:
        return p
    if n == 1:
        return 0.0
    return 10 ** bows[n - 2].get(words[:-1], 0.0) * _lookup(probs, bows, words[1:])


def read_dict(path: Path) -> dict[str, list[str]]:
    """CMU dictionary: word -> lines (alternates as word(2))."""
    entries: dict[str, list[str]] = defaultdict(list)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            head = line.split(maxsplit=1)[0] if line.strip() else ""
            if head:
                entries[head.split("(")[0]].append(line.rstrip("\n"))
    return entries


# Words of the clinic corpus missing from the CMU dictionary (ARPAbet, as pocketsphinx's en-us model uses).
EXTRA_PRONUNCIATIONS = {
    "atorvastatin": "AH T AO R V AH S T AE T AH N",
    "rosuvastatin": "R OW S UW V AH S T AE T AH N",
    "escitalopram": "EH S AY T AE L AH P R AE M",
    "montelukast": "M AA N T EH L UW K AE S T",
    "levothyroxine": "L IY V OW TH AY R AA K S IY N",
    "hydrochlorothiazide": "HH AY D R OW K L AO R OW TH AY AH Z AY D",
    "pantoprazole": "P AE N T OW P R AH Z OW L",
    "cyclobenzaprine": "S AY K L OW B EH N Z AH P R IY N",
    "tamsulosin": "T AE M S UW L OW S IH N",
    "duloxetine": "D UW L AA K S AH T IY N",
    "clopidogrel": "K L OW P IH D OW G R EH L",
    "carvedilol": "K AA R V EH D IH L AA L",
    "meloxicam": "M EH L AA K S IH K AE M",
    "gabapentin": "G AE B AH P EH N T IH N",
    "spironolactone": "S P IH R AH N OW L AE K T OW N",
    "eliquis": "EH L IH K W IH S",
    "xarelto": "Z AH R EH L T OW",
    "ozempic": "OW Z EH M P IH K",
    "jardiance": "JH AA R D IY AH N S",
    "lexapro": "L EH K S AH P R OW",
    "glipizide": "G L IH P IH Z AY D",
    "pravastatin": "P R AE V AH S T AE T AH N",
    "simvastatin": "S IH M V AH S T AE T AH N",
    "lisinopril": "L AY S IH N AH P R IH L",
    "metoprolol": "M EH T OW P R OW L AO L",
    "amlodipine": "AE M L OW D AH P IY N",
    "losartan": "L OW S AA R T AH N",
    "sertraline": "S ER T R AH L IY N",
    "bupropion": "B Y UW P R OW P IY AH N",
    "citalopram": "S IH T AE L AH P R AE M",
    "allopurinol": "AE L OW P Y UH R IH N AA L",
    "trazodone": "T R AE Z AH D OW N",
    "omeprazole": "OW M EH P R AH Z OW L",
    "fluticasone": "F L UW T IH K AH S OW N",
    "furosemide": "F Y UH R OW S AH M AY D",
    "azithromycin": "AH Z IH TH R OW M AY S IH N",
    "zolpidem": "Z OW L P IH D EH M",
    "tramadol": "T R AE M AH D AA L",
    "alprazolam": "AE L P R AE Z AH L AE M",
    "lorazepam": "L AO R AE Z AH P AE M",
    "albuterol": "AE L B Y UW T ER AA L",
    "metformin": "M EH T F AO R M IH N",
    "synthroid": "S IH N TH R OY D",
    "wellbutrin": "W EH L B Y UW T R IH N",
    "norvasc": "N AO R V AE S K",
    "tricare": "T R AY K EH R",
    "humana": "HH Y UW M AE N AH",
    "telehealth": "T EH L AH HH EH L TH",
    "nebulizer": "N EH B Y AH L AY Z ER",
    "copay": "K OW P EY",
    "covid": "K OW V IH D",
    "fluoxetine": "F L UW AA K S AH T IY N",
    "gastroenterologist": "G AE S T R OW EH N T ER AA L AH JH IH S T",
    "lipitor": "L IH P IH T AO R",
    "naproxen": "N AH P R AA K S AH N",
    "prednisone": "P R EH D N AH S OW N",
    "priya": "P R IY Y AH",
    "walgreens": "W AO L G R IY N Z",
    "warfarin": "W AO R F ER IH N",
    "yusuf": "Y UW S AH F",
    # added with the broader clinic corpus (drugs, conditions, tests, names, possessives)
    "adderall": "AE D ER AO L",
    "alejandra": "AA L EH HH AA N D R AH",
    "ambetter": "AE M B EH T ER",
    "amitriptyline": "AE M IH T R IH P T AH L IY N",
    "anil": "AH N IY L",
    "anjali": "AA N JH AH L IY",
    "atenolol": "AH T EH N AH L AO L",
    "augmentin": "AO G M EH N T IH N",
    "baclofen": "B AE K L OW F EH N",
    "benadryl": "B EH N AH D R IH L",
    "benzonatate": "B EH N Z OW N AH T EY T",
    "bursitis": "B ER S AY T AH S",
    "camila": "K AH M IY L AH",
    "celiac": "S IY L IY AE K",
    "cellulitis": "S EH L Y AH L AY T AH S",
    "cephalexin": "S EH F AH L EH K S IH N",
    "cetirizine": "S AH T IH R AH Z IY N",
    "chewable": "CH UW AH B AH L",
    "ciprofloxacin": "S IH P R OW F L AA K S AH S IH N",
    "clonazepam": "K L OW N AE Z AH P AE M",
    "colonoscopy": "K OW L AH N AA S K AH P IY",
    "coumadin": "K UW M AH D IH N",
    "crestor": "K R EH S T ER",
    "deshawn": "D AH SH AO N",
    "dexa": "D EH K S AH",
    "diverticulitis": "D AY V ER T IH K Y AH L AY T AH S",
    "doxycycline": "D AA K S IH S AY K L IY N",
    "earaches": "IH R EY K S",
    "echocardiogram": "EH K OW K AA R D IY AH G R AE M",
    "entresto": "EH N T R EH S T OW",
    "epipen": "EH P IY P EH N",
    "esperanza": "EH S P ER AA N Z AH",
    "estradiol": "EH S T R AH D AY AO L",
    "famotidine": "F AH M OW T AH D IY N",
    "farxiga": "F AA R K S IY G AH",
    "fasciitis": "F AE SH IY AY T AH S",
    "fiance's": "F IY AA N S EY Z",
    "fibromyalgia": "F AY B R OW M AY AE L JH AH",
    "flexeril": "F L EH K S ER IH L",
    "flonase": "F L OW N EY Z",
    "fluconazole": "F L UW K AA N AH Z OW L",
    "gummies": "G AH M IY Z",
    "gupta's": "G UH P T AH Z",
    "humira": "HH Y UW M EH R AH",
    "hydrocodone": "HH AY D R OW K OW D OW N",
    "hydroxyzine": "HH AY D R AA K S AH Z IY N",
    "imani": "IH M AA N IY",
    "ingrown": "IH N G R OW N",
    "jalen": "JH EY L AH N",
    "kavita": "K AH V IY T AH",
    "kaylee": "K EY L IY",
    "keflex": "K EH F L EH K S",
    "keisha": "K IY SH AH",
    "lakshmi": "L AA K SH M IY",
    "lantus": "L AE N T AH S",
    "meijer": "M AY ER",
    "meniscus": "M AH N IH S K AH S",
    "metronidazole": "M EH T R OW N IH D AH Z OW L",
    "miralax": "M IH R AH L AE K S",
    "mounjaro": "M AW N JH AA R OW",
    "mucinex": "M Y UW S AH N EH K S",
    "neha": "N EY HH AA",
    "newborn's": "N UW B AO R N Z",
    "nguyen's": "N UW Y EH N Z",
    "ondansetron": "AA N D AE N S AH T R AA N",
    "optum": "AA P T AH M",
    "oxycodone": "AA K S IY K OW D OW N",
    "patel's": "P AH T EH L Z",
    "paxlovid": "P AE K S L OW V IH D",
    "percocet": "P ER K AH S EH T",
    "plantar": "P L AE N T ER",
    "plavix": "P L AE V IH K S",
    "pooja": "P UW JH AA",
    "prediabetes": "P R IY D AY AH B IY T IY Z",
    "prilosec": "P R AY L OW S EH K",
    "propranolol": "P R OW P R AE N AH L AO L",
    "relaxer": "R IH L AE K S ER",
    "ringworm": "R IH NG W ER M",
    "rivera's": "R IH V EH R AH Z",
    "rotator": "R OW T EY T ER",
    "sciatica": "S AY AE T IH K AH",
    "specialist's": "S P EH SH AH L AH S T S",
    "stepdaughter's": "S T EH P D AO T ER Z",
    "stepson's": "S T EH P S AH N Z",
    "stye": "S T AY",
    "sumatriptan": "S UW M AH T R IH P T AH N",
    "suppositories": "S AH P AA Z AH T AO R IY Z",
    "symbicort": "S IH M B IH K AO R T",
    "tamiflu": "T AE M IH F L UW",
    "tamika": "T AH M IY K AH",
    "tendonitis": "T EH N D AH N AY T AH S",
    "tonsillitis": "T AA N S AH L AY T AH S",
    "toothache": "T UW TH EY K",
    "trulicity": "T R UW L IH S IH T IY",
    "underactive": "AH N D ER AE K T IH V",
    "valacyclovir": "V AE L AH S AY K L OW V IH R",
    "vijay": "V IH JH EY",
    "wegovy": "W IY G OW V IY",
    "wellcare": "W EH L K EH R",
    "yuki": "Y UW K IY",
    "zainab": "Z EY N AA B",
    "zyrtec": "Z ER T EH K",
}


def sentences_of(texts: list[str], min_words: int = 3) -> list[str]:
    """The sentences (split at . ? !) of ``texts``, normalised, of at least ``min_words`` words."""
    from ivr.speech.wer import normalise

    out = []
    for text in texts:
        for sentence in re.split(r"[.?!]", text):
            words = normalise(sentence)
            if len(words) >= min_words:
                out.append(" ".join(words))
    return out


def training_corpus(exclude: list[str], n: int = CORPUS_SIZE) -> tuple[list[str], int]:
    """The clinic corpus without any voicemail that contains one of the ``exclude`` sentences.

    Returns (voicemails kept, how many were dropped). Some reference sentences are common phrases
    ("please give me a call back") that the templates also make: those voicemails are left out.
    """
    from ivr.speech.corpus import generate

    padded = [f" {s} " for s in exclude]
    kept = [line for line in generate(n) if not any(s in f" {line} " for s in padded)]
    return kept, n - len(kept)


def reference_sentences() -> list[str]:
    """The reference voicemails' sentences (benches/reference_texts.py), when run from the repository."""
    try:
        from benches.reference_texts import VOICEMAILS
    except ImportError:
        return []
    return sentences_of([text for _, text in VOICEMAILS])


def held_out_sentences() -> list[str]:
    """The sentences of the reference, development and blind voicemails: kept out of the training corpus.

    Settings are chosen on the development voicemails and the result is measured on the reference
    and blind ones, so the language model must have seen none of them.

    Outside the repository (benches/ not importable) this stops rather than let a model be trained on
    the very voicemails it is measured on.
    """
    try:
        from benches.blind_texts import BLIND_VOICEMAILS
        from benches.dev_texts import DEV_VOICEMAILS
        from benches.reference_texts import VOICEMAILS
    except ImportError as exc:
        raise SystemExit("run from the repository root: the benchmark's voicemails (benches/) must be "
                         "importable to be kept out of the training text") from exc
    return sentences_of([text for _, text in VOICEMAILS + DEV_VOICEMAILS + BLIND_VOICEMAILS])


def urgent_words(ranked: list[str], general: GeneralModel, per_prefix: int = 8) -> set[str]:
    """The words of the default English urgent phrases (ivr/clinic.py), so that every one can be heard.

    A word the vocabulary lacks is never recognised, whatever was said: the 8,000 most frequent
    English words leave out "suicidal" and "unconscious". A prefix pattern ("suicid*") brings the
    ``per_prefix`` most frequent English words it matches (suicide, suicidal, ...).
    """
    from ivr.clinic import DEFAULT_URGENT_PHRASES

    known = set(ranked)
    words: set[str] = set()
    for phrase in DEFAULT_URGENT_PHRASES["en"]:
        for word in phrase.lower().split():
            if word.endswith("*"):
                words.update([w for w in ranked if w.startswith(word[:-1]) and general.p((w,)) > 0][:per_prefix])
            elif word in known:
                words.add(word)
    return words


def build(out_dir: Path = DATA_DIR, *, n_sentences: int = CORPUS_SIZE, general_words: int = GENERAL_WORDS, weight: float = DOMAIN_WEIGHT) -> dict:
    """Build clinic-en.lm.bin, clinic-en.dict and clinic-en.json (what went in) in ``out_dir``."""
    import pocketsphinx

    model_dir = Path(pocketsphinx.get_model_path()) / "en-us"
    cmudict = read_dict(model_dir / "cmudict-en-us.dict")
    for word, pron in EXTRA_PRONUNCIATIONS.items():
        cmudict.setdefault(word, [f"{word} {pron}"])
    exclude = held_out_sentences()
    corpus, dropped = training_corpus(exclude, n_sentences)
    sentences = [line.split() for line in corpus]
    domain_words = sorted({w for s in sentences for w in s})
    missing = [w for w in domain_words if w not in cmudict]
    if missing:
        raise SystemExit(f"no pronunciation for corpus words: {' '.join(missing)} (add them to EXTRA_PRONUNCIATIONS)")

    general = GeneralModel(model_dir / "en-us.lm.bin")
    ranked = sorted((w for w in cmudict if w.isascii() and w[0].isalpha()), key=lambda w: -general.p((w,)))
    vocab_set = set(domain_words) | {w for w in ranked[:general_words] if general.p((w,)) > 0}
    urgent = urgent_words(ranked, general)
    vocab_set |= urgent
    vocab = sorted(vocab_set)
    general.restrict(vocab_set)
    frequent = [w for w in ranked[:GENERAL_BIGRAM_WORDS] if w in vocab_set]
    general_bigrams = general.explicit_bigrams(frequent)
    domain = DiscountedModel(sentences, vocab + ["</s>"])
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        arpa = Path(tmp) / "clinic-en.arpa"
        sizes = mix_to_arpa(domain, general, vocab, weight, arpa, general_bigrams)
        mixed = _load_ngram(arpa)
        mixed.write(str(out_dir / "clinic-en.lm.bin"), pocketsphinx.NGramModel.str_to_type("bin"))
    with open(out_dir / "clinic-en.dict", "w", encoding="utf-8") as fh:
        for word in vocab:
            for line in cmudict[word]:
                fh.write(line + "\n")
    meta = {
        "corpus_voicemails": len(corpus),
        "dropped_for_held_out_sentences": dropped,
        "held_out_sentences": len(exclude),
        "corpus_words": sum(len(s) for s in sentences),
        "domain_vocabulary": len(domain_words),
        "general_words": general_words,
        "general_bigram_words": GENERAL_BIGRAM_WORDS,
        "general_bigrams": len(general_bigrams),
        "urgent_words": len(urgent),
        "vocabulary": len(vocab),
        "domain_weight": weight,
        "discount": DISCOUNT,
        "ngrams": sizes,
    }
    (out_dir / "clinic-en.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


_keep: list = []  # the C model keeps pointers to its config and log tables: they must outlive it


def _load_ngram(path: Path):
    import pocketsphinx

    config, logmath = pocketsphinx.Config(), pocketsphinx.LogMath()
    _keep.extend([config, logmath])
    return pocketsphinx.NGramModel(config, logmath, str(path))


if __name__ == "__main__":
    os.environ.setdefault("POCKETSPHINX_LOGLEVEL", "ERROR")
    print(json.dumps(build(), indent=2))
