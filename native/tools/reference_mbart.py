#!/usr/bin/env python3
"""Independent numpy reference of the HF MBart forward (float64) for checking the native engine's math
on small checkpoints. Dev tool, not used by the tests (CI has no numpy).

usage: reference_mbart.py MODEL_DIR SRC_IDS(comma) FORCED_BOS MAX_NEW_TOKENS
prints JSON: encoder_out first8 + sum, first-step logits first8, greedy ids (HF semantics).
"""
import json, math, os, struct, sys
import numpy as np

def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, t = e["data_offsets"]
        raw = data[b:t]
        if e["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif e["dtype"] == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif e["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(e["dtype"])
        out[name] = a.reshape(e["shape"]).astype(np.float64)
    return out

def load(dirname):
    w = {}
    idx = os.path.join(dirname, "model.safetensors.index.json")
    if os.path.exists(idx):
        files = sorted(set(json.load(open(idx))["weight_map"].values()))
        for f in files:
            w.update(load_safetensors(os.path.join(dirname, f)))
    else:
        w.update(load_safetensors(os.path.join(dirname, "model.safetensors")))
    return json.load(open(os.path.join(dirname, "config.json"))), w

def ln(x, g, b):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-5) * g + b

def act(name, x):
    if name == "gelu":
        from math import erf
        return 0.5 * x * (1 + np.vectorize(erf)(x / math.sqrt(2)))
    if name == "relu":
        return np.maximum(x, 0)
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

def lin(w, p, x):
    return x @ w[p + ".weight"].T + w[p + ".bias"]

def attn(w, p, xq, xkv, heads, causal):
    d = xq.shape[-1]; hd = d // heads
    q = lin(w, p + ".q_proj", xq) * hd ** -0.5
    k = lin(w, p + ".k_proj", xkv); v = lin(w, p + ".v_proj", xkv)
    out = np.zeros_like(q)
    for h in range(heads):
        s = q[:, h*hd:(h+1)*hd] @ k[:, h*hd:(h+1)*hd].T
        if causal:
            s = s + np.triu(np.full(s.shape, -np.inf), 1)
        s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
        out[:, h*hd:(h+1)*hd] = s @ v[:, h*hd:(h+1)*hd]
    return lin(w, p + ".out_proj", out)

def embed(cfg, w, side, ids):
    scale = math.sqrt(cfg["d_model"]) if cfg.get("scale_embedding") else 1.0
    x = w["model.shared.weight"][ids] * scale + w[f"model.{side}.embed_positions.weight"][np.arange(len(ids)) + 2]
    return ln(x, w[f"model.{side}.layernorm_embedding.weight"], w[f"model.{side}.layernorm_embedding.bias"])

def encoder(cfg, w, ids):
    h = embed(cfg, w, "encoder", ids)
    for i in range(cfg["encoder_layers"]):
        p = f"model.encoder.layers.{i}"
        x = ln(h, w[p + ".self_attn_layer_norm.weight"], w[p + ".self_attn_layer_norm.bias"])
        h = h + attn(w, p + ".self_attn", x, x, cfg["encoder_attention_heads"], False)
        x = ln(h, w[p + ".final_layer_norm.weight"], w[p + ".final_layer_norm.bias"])
        h = h + lin(w, p + ".fc2", act(cfg.get("activation_function", "gelu"), lin(w, p + ".fc1", x)))
    return ln(h, w["model.encoder.layer_norm.weight"], w["model.encoder.layer_norm.bias"])

def decoder_logits(cfg, w, enc, ids):
    h = embed(cfg, w, "decoder", ids)
    for i in range(cfg["decoder_layers"]):
        p = f"model.decoder.layers.{i}"
        x = ln(h, w[p + ".self_attn_layer_norm.weight"], w[p + ".self_attn_layer_norm.bias"])
        h = h + attn(w, p + ".self_attn", x, x, cfg["decoder_attention_heads"], True)
        x = ln(h, w[p + ".encoder_attn_layer_norm.weight"], w[p + ".encoder_attn_layer_norm.bias"])
        h = h + attn(w, p + ".encoder_attn", x, enc, cfg["decoder_attention_heads"], False)
        x = ln(h, w[p + ".final_layer_norm.weight"], w[p + ".final_layer_norm.bias"])
        h = h + lin(w, p + ".fc2", act(cfg.get("activation_function", "gelu"), lin(w, p + ".fc1", x)))
    h = ln(h, w["model.decoder.layer_norm.weight"], w["model.decoder.layer_norm.bias"])
    logits = h[-1] @ w["model.shared.weight"].T
    if "final_logits_bias" in w:
        logits = logits + w["final_logits_bias"][0]
    return logits

def main():
    d, src, bos, max_new = sys.argv[1], [int(x) for x in sys.argv[2].split(",")], int(sys.argv[3]), int(sys.argv[4])
    cfg, w = load(d)
    enc = encoder(cfg, w, np.array(src))
    first = decoder_logits(cfg, w, enc, np.array([2]))
    ids = [2]
    max_len = 1 + max_new
    while True:
        lg = decoder_logits(cfg, w, enc, np.array(ids))
        if len(ids) == 1:
            t = bos
        elif len(ids) == max_len - 1:
            t = 2
        else:
            t = int(np.argmax(lg))
        ids.append(t)
        if t == 2 or len(ids) >= max_len:
            break
    print(json.dumps({"encoder_first8": enc.reshape(-1)[:8].tolist(), "encoder_sum": float(enc.sum()),
                      "logits_first8": first[:8].tolist(), "greedy": ids}))

main()
