#!/usr/bin/env python3
"""PyTorch side of the Q3 comparison: the homework's two caption decoders (REFERENCE.md, Q3)
written in eager PyTorch, trained as the homework's train.py does (Adam 4e-4, batch 8, dropout
0.5, gradient values clamped to +-5, teacher forcing, cross-entropy over real steps, seed 42),
with greedy decoding of val/test one image at a time.

Two uses:
  * BLEU anchor: --features all_features.hdf5 trains on the same features graphc uses and
    writes caps_generated_<tag>.json + metrics; score them with `graphc --bleu` so both sides
    are scored by the same code.
  * Speed (bench/caption_bench.sh): seconds of each training epoch and of the greedy decoding of
    the validation set after it (BLEU scoring not included), one JSON line per epoch and a
    summary line; --epochs 1 for a quick run; --random-features runs the same work on random
    features (no data needed beyond the captions).

  python3 bench/caption_torch.py --features results/features/all_features.hdf5 --attention --out results/torch
"""
import argparse, json, math, os, random, time

import torch
import torch.nn as nn

from run_conditions import meter


class Attention(nn.Module):
    def __init__(self, encoder_dim, decoder_dim, attention_dim):
        super().__init__()
        self.encoder_att = nn.Linear(encoder_dim, attention_dim)
        self.decoder_att = nn.Linear(decoder_dim, attention_dim)
        self.full_att = nn.Linear(attention_dim, 1)

    def forward(self, encoder_out, h):
        att = self.full_att(torch.relu(self.encoder_att(encoder_out) + self.decoder_att(h).unsqueeze(1))).squeeze(2)
        alpha = torch.softmax(att, dim=1)
        return (encoder_out * alpha.unsqueeze(2)).sum(dim=1), alpha


class Decoder(nn.Module):
    def __init__(self, vocab, attention, embed_dim=100, decoder_dim=256, encoder_dim=512, attention_dim=100, dropout=0.5):
        super().__init__()
        self.attention = Attention(encoder_dim, decoder_dim, attention_dim) if attention else None
        self.embedding = nn.Embedding(vocab, embed_dim)
        self.decode_step = nn.LSTMCell(embed_dim + (encoder_dim if attention else 0), decoder_dim)
        self.init_h = nn.Linear(encoder_dim, decoder_dim)
        self.init_c = nn.Linear(encoder_dim, decoder_dim)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(decoder_dim, vocab)
        self.embedding.weight.data.uniform_(-0.1, 0.1)
        self.fc.bias.data.fill_(0)
        self.fc.weight.data.uniform_(-0.1, 0.1)

    def step(self, feats, word, h, c):
        x = self.embedding(word)
        alpha = None
        if self.attention is not None:
            context, alpha = self.attention(feats, h)
            x = torch.cat([x, context], dim=1)
        h, c = self.decode_step(x, (h, c))
        return h, c, alpha

    def forward(self, feats, captions):
        mean = feats.mean(dim=1)
        h, c = self.init_h(mean), self.init_c(mean)
        scores = []
        for t in range(captions.shape[1] - 1):
            h, c, _ = self.step(feats, captions[:, t], h, c)
            scores.append(self.fc(self.dropout(h)))
        return torch.stack(scores, dim=1)

    @torch.no_grad()
    def greedy(self, feats, start, end, max_len):
        mean = feats.mean(dim=1)
        h, c = self.init_h(mean), self.init_c(mean)
        word = torch.tensor([start])
        out = []
        for _ in range(max_len):
            h, c, _ = self.step(feats, word, h, c)
            word = self.fc(h).argmax(dim=1)
            if word.item() == end:
                break
            out.append(word.item())
        return out


def load_json(path):
    with open(path) as f:
        return json.load(f)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/sydney-captions")
    p.add_argument("--features", help="all_features.hdf5 (needs h5py)")
    p.add_argument("--random-features", action="store_true", help="random features: speed only")
    p.add_argument("--attention", action="store_true")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", default=None, help="folder for caps_generated_<tag>.json and metrics_torch_<tag>.json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    from nltk.translate.bleu_score import sentence_bleu, corpus_bleu

    d = os.path.join(a.data, "datasets")
    vocab = load_json(os.path.join(d, "vocab_info.json"))
    tok = vocab["token_to_id"]
    max_len = vocab["max_len"]
    train = load_json(os.path.join(d, "train.json"))
    val, test = load_json(os.path.join(d, "val.json")), load_json(os.path.join(d, "test.json"))
    if a.random_features:
        feats = torch.rand(613, 256, 512)
    else:
        import h5py
        with h5py.File(a.features, "r") as f:
            feats = torch.from_numpy(f["features"][:])
    row = lambda name: int(name.split(".")[0]) - 1
    caps = torch.zeros(len(train["captions_tokens"]), max_len, dtype=torch.long)
    for i, c in enumerate(train["captions_tokens"]):
        ids = [tok.get(t, tok["<unk>"]) for t in c]
        caps[i, :len(ids)] = torch.tensor(ids)
    rows = torch.tensor([row(n) for n in train["images_names"]])

    model = Decoder(vocab["vocab_size"], a.attention)
    opt = torch.optim.Adam(model.parameters(), lr=4e-4)
    loss_fn = nn.CrossEntropyLoss(ignore_index=0)
    id_to_token = {int(k): v for k, v in vocab["id_to_token"].items()} if isinstance(vocab["id_to_token"], dict) else dict(enumerate(vocab["id_to_token"]))

    def decode(split):
        """Greedy captions of a split, their BLEU-4, and the seconds the decoding took (BLEU scoring not included)."""
        t0 = time.perf_counter()
        model.eval()
        hyps = [[id_to_token[i] for i in model.greedy(feats[row(n)].unsqueeze(0), tok["<start_seq>"], tok["<end_seq>"], max_len)]
                for n in split["images_names"]]
        seconds = time.perf_counter() - t0
        refs = [split["all_refs"][n] for n in split["images_names"]]
        mean = sum(sentence_bleu(r, h) for r, h in zip(refs, hyps)) / len(hyps)
        return hyps, mean, corpus_bleu(refs, hyps), seconds

    epochs = []
    for epoch in range(1, a.epochs + 1):
        model.train()
        order = torch.randperm(len(caps))
        read = meter()
        total, batches = 0.0, 0
        for b in range(0, len(order), 8):
            idx = order[b:b + 8]
            scores = model(feats[rows[idx]], caps[idx])
            loss = loss_fn(scores.reshape(-1, scores.shape[-1]), caps[idx, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            for prm in model.parameters():
                prm.grad.data.clamp_(-5, 5)
            opt.step()
            total += loss.item()
            batches += 1
        seconds, conditions = read()
        val_hyps, vb, vc, decode_seconds = decode(val)
        epochs.append({"epoch": epoch, "train_loss": total / batches, "val_bleu4": vb, "val_corpus_bleu4": vc,
                       "seconds": seconds, "decode_seconds": decode_seconds,
                       "decode_seconds_per_image": decode_seconds / len(val_hyps),
                       "decoded_tokens": sum(len(h) for h in val_hyps), "conditions": conditions})
        print(json.dumps(epochs[-1]), flush=True)
    hyps, tb, tc, test_seconds = decode(test)
    tag = "enc_dec_w_attention" if a.attention else "enc_dec"
    result = {"framework": "torch " + torch.__version__, "threads": a.threads, "model": tag, "epochs": epochs,
              "test_bleu4": tb, "test_corpus_bleu4": tc,
              "seconds_per_epoch": sum(e["seconds"] for e in epochs) / len(epochs),
              "val_decode_seconds": sum(e["decode_seconds"] for e in epochs) / len(epochs),
              "decode_seconds_per_image": test_seconds / len(hyps)}
    print(json.dumps({k: v for k, v in result.items() if k != "epochs"}))
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, f"caps_generated_{tag}.json"), "w") as f:
            json.dump([{"image_name": n, "caption": h} for n, h in zip(test["images_names"], hyps)], f)
        with open(os.path.join(a.out, f"metrics_torch_{tag}.json"), "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
