#!/usr/bin/env python3
"""ONNX export of an mBART checkpoint for the peer benchmark (npm run bench:peers), in the layout transformers.js
loads: onnx/encoder_model.onnx + onnx/decoder_model_merged.onnx (fp32) and *_quantized.onnx (int8), each with its
weights in an external <name>.onnx_data file.

Runs where torch, transformers, onnx and onnxruntime are installed (the GPU machine: no Node, no network); see
tools/onnx-export/README.md for the whole procedure.

  python3 export.py --model DIR --golden golden.json --out OUTDIR [--max-new 64]

What it does:
 1. Exports the encoder (input_ids, attention_mask -> last_hidden_state) and two decoder graphs, written here in
    plain torch from the HF model's own modules so that every shape stays symbolic: the first step (no past;
    computes cross-attention K/V from encoder_hidden_states) and a step with past (self K/V appended, cross K/V
    read from the past). They are merged into one decoder with an If on use_cache_branch, the way optimum
    merges decoder_model + decoder_with_past_model (shared weights deduplicated; the with-past branch returns
    small constants for present.*.encoder.*, which transformers.js replaces by the past it already holds).
 2. Quantizes both with onnxruntime.quantization.quantize_dynamic: int8 weights per output channel, uint8
    activations quantized per call, no reduced range (optimum's avx512_vnni dynamic settings).
 3. Validates greedy decoding against Hugging Face generate on the golden cases (source ids + forced BOS):
    fp32 and int8 ONNX token sequences vs HF, counted and written to validation.json.
 4. Writes OUTDIR/bundle/: the .onnx graph files, the int8 external data, and for the fp32 external data a
    manifest saying which checkpoint tensor (fp16 -> fp32, maybe transposed) fills each byte range plus a small
    payload of the tensors that are not checkpoint tensors, so that the fp32 weights need not travel back;
    tools/onnx-export/assemble.ts rebuilds them byte for byte (sha256 checked) from the local checkpoint.
"""
import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:6.1f}s] {msg}", flush=True)


# ---------------------------------------------------------------- model code (HF modules, symbolic shapes)
class Parts:
    def __init__(self, model):
        self.m = model
        c = model.config
        self.d = c.d_model
        self.heads = c.decoder_attention_heads
        self.enc_heads = c.encoder_attention_heads
        self.hd = self.d // self.heads
        self.scale_emb = (self.d ** 0.5) if c.scale_embedding else 1.0
        self.act = {"gelu": torch.nn.functional.gelu, "relu": torch.relu}[c.activation_function]
        self.layers = c.decoder_layers


def split_heads(x, heads):  # [B, T, d] -> [B, H, T, hd]
    b = x.shape[0]
    return x.reshape(b, -1, heads, x.shape[-1] // heads).transpose(1, 2)


def merge_heads(x):  # [B, H, T, hd] -> [B, T, d]
    b = x.shape[0]
    return x.transpose(1, 2).reshape(b, -1, x.shape[1] * x.shape[3])


def attend(q, k, v, mask):
    s = torch.matmul(q, k.transpose(-1, -2))
    if mask is not None:
        s = s + mask
    return torch.matmul(torch.softmax(s, dim=-1), v)


def pad_mask(attention_mask, dtype):  # [B, S] (1 = token) -> additive [B, 1, 1, S]
    return ((1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min)


def positions(embed_positions, ids, past_len):
    # mBART learned positions have an offset of 2; position of step t = past_len + t.
    pos = torch.cumsum(torch.ones_like(ids), dim=1) - 1 + past_len
    return torch.nn.functional.embedding(pos + 2, embed_positions.weight)


class Encoder(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p
        self.m = p.m  # registered: its weights are the graph's initializers
        self.e = p.m.model.encoder

    def forward(self, input_ids, attention_mask):
        p, e = self.p, self.e
        h = torch.nn.functional.embedding(input_ids, p.m.model.shared.weight) * p.scale_emb
        h = h + positions(e.embed_positions, input_ids, 0)
        h = e.layernorm_embedding(h)
        mask = pad_mask(attention_mask, h.dtype)
        for L in e.layers:
            a = L.self_attn
            r = h
            x = L.self_attn_layer_norm(h)
            q = split_heads(a.q_proj(x) * a.scaling, p.enc_heads)
            k = split_heads(a.k_proj(x), p.enc_heads)
            v = split_heads(a.v_proj(x), p.enc_heads)
            h = r + a.out_proj(merge_heads(attend(q, k, v, mask)))
            r = h
            x = L.final_layer_norm(h)
            h = r + L.fc2(p.act(L.fc1(x)))
        return e.layer_norm(h)


class DecoderStep(torch.nn.Module):
    """with_past=False: first step, cross K/V from encoder_hidden_states; True: self K/V appended to the past,
    cross K/V read from the past."""

    def __init__(self, p, with_past):
        super().__init__()
        self.p = p
        self.m = p.m
        self.dm = p.m.model.decoder
        self.with_past = with_past

    def forward(self, input_ids, encoder_attention_mask, encoder_hidden_states, *past):
        p, dm = self.p, self.dm
        past_len = torch._shape_as_tensor(past[0])[2] if self.with_past else 0
        h = torch.nn.functional.embedding(input_ids, p.m.model.shared.weight) * p.scale_emb
        h = h + positions(dm.embed_positions, input_ids, past_len)
        h = dm.layernorm_embedding(h)
        cmask = pad_mask(encoder_attention_mask, h.dtype)
        presents = []
        for i, L in enumerate(dm.layers):
            a = L.self_attn
            r = h
            x = L.self_attn_layer_norm(h)
            q = split_heads(a.q_proj(x) * a.scaling, p.heads)
            k = split_heads(a.k_proj(x), p.heads)
            v = split_heads(a.v_proj(x), p.heads)
            if self.with_past:
                k = torch.cat([past[4 * i], k], dim=2)
                v = torch.cat([past[4 * i + 1], v], dim=2)
            # one new token per row: it attends to every earlier position, no mask needed
            h = r + a.out_proj(merge_heads(attend(q, k, v, None)))
            c = L.encoder_attn
            r = h
            x = L.encoder_attn_layer_norm(h)
            cq = split_heads(c.q_proj(x) * c.scaling, p.heads)
            if self.with_past:
                ck, cv = past[4 * i + 2], past[4 * i + 3]
            else:
                ck = split_heads(c.k_proj(encoder_hidden_states), p.heads)
                cv = split_heads(c.v_proj(encoder_hidden_states), p.heads)
            h = r + c.out_proj(merge_heads(attend(cq, ck, cv, cmask)))
            r = h
            x = L.final_layer_norm(h)
            h = r + L.fc2(p.act(L.fc1(x)))
            presents += [k, v] if self.with_past else [k, v, ck, cv]
        h = dm.layer_norm(h)
        logits = p.m.lm_head(h) + p.m.final_logits_bias
        return (logits, *presents)


def pkv_names(prefix, layers):
    out = []
    for i in range(layers):
        out += [f"{prefix}.{i}.decoder.key", f"{prefix}.{i}.decoder.value", f"{prefix}.{i}.encoder.key", f"{prefix}.{i}.encoder.value"]
    return out


def export(module, args, path, inputs, outputs, dyn, opset=17):
    """TorchScript-based exporter (symbolic dims from dynamic_axes); the dynamo exporter when that one is gone."""
    kw = dict(input_names=inputs, output_names=outputs, dynamic_axes=dyn, opset_version=opset, do_constant_folding=True)
    try:
        try:
            torch.onnx.export(module, args, path, dynamo=False, **kw)
        except TypeError:  # a torch without the dynamo switch
            torch.onnx.export(module, args, path, **kw)
    except Exception as e:  # noqa: BLE001
        log(f"TorchScript export failed ({type(e).__name__}: {e}); trying dynamo=True")
        torch.onnx.export(module, args, path, dynamo=True, external_data=False, **kw)
    return onnx.load(path)


# ---------------------------------------------------------------- merge (If on use_cache_branch)
def merge_decoders(no_past, with_past, layers, heads, hd):
    g0, g1 = no_past.graph, with_past.graph
    # deduplicate initializers by content
    by_hash, inits, rename = {}, [], [{}, {}]
    for gi, g in enumerate((g0, g1)):
        for t in g.initializer:
            arr = numpy_helper.to_array(t)
            key = (t.data_type, tuple(t.dims), hashlib.sha256(arr.tobytes()).hexdigest())
            if key in by_hash:
                rename[gi][t.name] = by_hash[key]
                continue
            name = t.name if all(x.name != t.name for x in inits) else f"wp::{t.name}"
            rename[gi][t.name] = name
            nt = numpy_helper.from_array(arr, name)
            by_hash[key] = name
            inits.append(nt)
    outer_inputs = {"input_ids", "encoder_attention_mask", "encoder_hidden_states", "use_cache_branch", *pkv_names("past_key_values", layers)}

    def branch(g, gi, prefix, out_names, extra_nodes=()):
        nodes = []
        local = lambda n: n if (n == "" or n in outer_inputs) else (rename[gi].get(n) or f"{prefix}{n}")
        for nd in g.node:
            n2 = onnx.NodeProto()
            n2.CopyFrom(nd)
            n2.name = prefix + nd.name
            del n2.input[:]
            n2.input.extend(local(x) for x in nd.input)
            del n2.output[:]
            n2.output.extend(f"{prefix}{x}" if x else "" for x in nd.output)
            nodes.append(n2)
        outs = []
        produced = {o.name: o for o in g.output}
        for name in out_names:
            if name in produced:
                src = local(name) if name in outer_inputs else f"{prefix}{name}"
                ident = f"{prefix}out::{name}"
                nodes.append(helper.make_node("Identity", [src], [ident], name=f"{prefix}id::{name}"))
                outs.append(helper.make_tensor_value_info(ident, TensorProto.FLOAT, None))
        nodes.extend(extra_nodes)
        for n in extra_nodes:
            outs.append(helper.make_tensor_value_info(n.output[0], TensorProto.FLOAT, None))
        return nodes, outs

    out_names = ["logits", *pkv_names("present", layers)]
    # else branch: first step, every output produced by the graph
    e_nodes, e_outs = branch(g0, 0, "nopast::", out_names)
    # then branch: with past; present.*.encoder.* are small constants (the caller keeps its past cross K/V)
    have = {o.name for o in g1.output}
    t_nodes, t_outs = [], []
    tmp_nodes, tmp_outs = branch(g1, 1, "past::", [n for n in out_names if n in have])
    t_nodes += tmp_nodes
    consts = {}
    for n in out_names:
        if n in have:
            continue
        cname = f"past::const::{n}"
        consts[n] = helper.make_node("Constant", [], [cname], name=cname,
                                     value=numpy_helper.from_array(np.zeros((1, heads, 1, hd), np.float32), cname + "::value"))
    t_nodes += consts.values()
    # outputs in the merged order
    order = {o.name.split("out::", 1)[1]: o for o in tmp_outs}
    for n in out_names:
        if n in order:
            t_outs.append(order[n])
        else:
            t_outs.append(helper.make_tensor_value_info(consts[n].output[0], TensorProto.FLOAT, None))
    then_g = helper.make_graph(t_nodes, "with_past", [], t_outs)
    else_g = helper.make_graph(e_nodes, "no_past", [], e_outs)
    iff = helper.make_node("If", ["use_cache_branch"], out_names, name="optimum::if", then_branch=then_g, else_branch=else_g)
    ins = {i.name: i for i in g0.input}
    ins.update({i.name: i for i in g1.input if i.name not in ins})
    ordered = ["input_ids", "encoder_attention_mask", "encoder_hidden_states", *pkv_names("past_key_values", layers)]
    inputs = [ins[n] for n in ordered if n in ins]
    inputs.append(helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1]))
    outs = {o.name: o for o in g0.output}
    outputs = [outs[n] for n in out_names]
    g = helper.make_graph([iff], "decoder_model_merged", inputs, outputs, initializer=inits)
    m = helper.make_model(g, opset_imports=list(no_past.opset_import), producer_name="glossa tools/onnx-export")
    m.ir_version = no_past.ir_version
    onnx.checker.check_model(m)
    return m


# ---------------------------------------------------------------- int8 for MatMuls inside If branches
def quantize_weights(w):
    """onnxruntime.quantization's per-channel symmetric int8 weights for a MatMul B [K, N] (checked to give its
    exact bytes on the encoder): scale[n] = max|B[:, n]| / 127, q = round-half-even(B / scale), zero point 0."""
    amax = np.abs(w).max(axis=0).astype(np.float32)
    scale = (amax / np.float32(127)).astype(np.float32)
    scale[scale == 0] = np.float32(1)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def quantize_if_branches(model):
    """quantize_dynamic leaves MatMuls inside If branches whose weights live in the outer graph in float (seen
    with onnxruntime 1.30 on the merged decoder). This applies the transformation it applies elsewhere, node for
    node: DynamicQuantizeLinear(x) (shared per input), MatMulInteger(xq, Bq, x_zp, B_zp), Cast, Mul(x_scale *
    B_scale). Returns how many MatMuls it quantized."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    done, count = {}, 0

    def qweight(name):
        if name not in done:
            q, scale = quantize_weights(numpy_helper.to_array(inits[name]).astype(np.float32))
            g.initializer.extend([numpy_helper.from_array(q, name + "_quantized"), numpy_helper.from_array(scale, name + "_scale"),
                                  numpy_helper.from_array(np.zeros(q.shape[1], np.int8), name + "_zero_point")])
            done[name] = (name + "_quantized", name + "_scale", name + "_zero_point")
        return done[name]

    for node in g.node:
        for attr in node.attribute:
            if attr.type != onnx.AttributeProto.GRAPH:
                continue
            sub = attr.g
            new_nodes, dq = [], {}
            for n in sub.node:
                w = n.input[1] if n.op_type == "MatMul" and len(n.input) == 2 else None
                if w is None or w not in inits or len(inits[w].dims) != 2 or inits[w].data_type != TensorProto.FLOAT:
                    new_nodes.append(n)
                    continue
                x = n.input[0]
                if x not in dq:
                    base = f"{x}::dq"
                    new_nodes.append(helper.make_node("DynamicQuantizeLinear", [x], [base + "_quantized", base + "_scale", base + "_zero_point"], name=base))
                    dq[x] = (base + "_quantized", base + "_scale", base + "_zero_point")
                xq, xs, xz = dq[x]
                wq, ws, wz = qweight(w)
                o = n.output[0]
                new_nodes += [
                    helper.make_node("MatMulInteger", [xq, wq, xz, wz], [o + "::int"], name=n.name + "_quant"),
                    helper.make_node("Cast", [o + "::int"], [o + "::cast"], name=n.name + "_cast", to=TensorProto.FLOAT),
                    helper.make_node("Mul", [xs, ws], [o + "::scales"], name=n.name + "_scales_mul"),
                    helper.make_node("Mul", [o + "::cast", o + "::scales"], [o], name=n.name + "_output_mul"),
                ]
                count += 1
            del sub.node[:]
            sub.node.extend(new_nodes)
    # float weights no longer read anywhere
    used = set()

    def collect(gr):
        for n in gr.node:
            used.update(n.input)
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    collect(a.g)

    collect(g)
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    return count


# ---------------------------------------------------------------- ORT greedy decoding
def ort_greedy(enc, dec, src_ids, forced_bos, start_id, eos_id, max_new, layers, heads, hd):
    ids = np.array([src_ids], dtype=np.int64)
    am = np.ones_like(ids)
    h = enc.run(None, {"input_ids": ids, "attention_mask": am})[0]
    names = pkv_names("past_key_values", layers)
    past = {n: np.zeros((1, heads, 0, hd), np.float32) for n in names}
    out = [start_id]
    cur = start_id
    use_cache = False
    for step in range(max_new):
        feeds = {"input_ids": np.array([[cur]], np.int64), "encoder_attention_mask": am, "encoder_hidden_states": h,
                 "use_cache_branch": np.array([use_cache]), **past}
        res = dec.run(None, feeds)
        logits = res[0][0, -1]
        nxt = forced_bos if step == 0 and forced_bos is not None else int(np.argmax(logits))
        pres = dict(zip(pkv_names("present", layers), res[1:]))
        for i in range(layers):
            past[f"past_key_values.{i}.decoder.key"] = pres[f"present.{i}.decoder.key"]
            past[f"past_key_values.{i}.decoder.value"] = pres[f"present.{i}.decoder.value"]
            if not use_cache:
                past[f"past_key_values.{i}.encoder.key"] = pres[f"present.{i}.encoder.key"]
                past[f"past_key_values.{i}.encoder.value"] = pres[f"present.{i}.encoder.value"]
        use_cache = True
        out.append(nxt)
        cur = nxt
        if nxt == eos_id:
            break
    return out


def ort_greedy_batch(enc, dec, cases, pad_id, start_id, eos_id, max_new, layers, heads, hd):
    n = max(len(c["src_ids"]) for c in cases)
    ids = np.full((len(cases), n), pad_id, np.int64)
    am = np.zeros((len(cases), n), np.int64)
    for r, c in enumerate(cases):
        ids[r, : len(c["src_ids"])] = c["src_ids"]
        am[r, : len(c["src_ids"])] = 1
    h = enc.run(None, {"input_ids": ids, "attention_mask": am})[0]
    past = {nm: np.zeros((len(cases), heads, 0, hd), np.float32) for nm in pkv_names("past_key_values", layers)}
    cur = np.full((len(cases), 1), start_id, np.int64)
    outs = [[start_id] for _ in cases]
    done = [False] * len(cases)
    for step in range(max_new):
        res = dec.run(None, {"input_ids": cur, "encoder_attention_mask": am, "encoder_hidden_states": h, "use_cache_branch": np.array([step > 0]), **past})
        pres = dict(zip(pkv_names("present", layers), res[1:]))
        for i in range(layers):
            for kind in ("key", "value"):
                past[f"past_key_values.{i}.decoder.{kind}"] = pres[f"present.{i}.decoder.{kind}"]
                if step == 0:
                    past[f"past_key_values.{i}.encoder.{kind}"] = pres[f"present.{i}.encoder.{kind}"]
        for r, c in enumerate(cases):
            nxt = c.get("forced_bos_id") if step == 0 else int(np.argmax(res[0][r, -1]))
            cur[r, 0] = nxt
            if not done[r]:
                outs[r].append(nxt)
                done[r] = nxt == eos_id
        if all(done):
            break
    return outs


# ---------------------------------------------------------------- fp32 external data -> manifest
def fp32_manifest(model_path, data_name, checkpoint):
    """Which checkpoint tensor (fp16 values as fp32, maybe transposed) fills each range of the external data file."""
    base = os.path.dirname(model_path)
    data = open(os.path.join(base, data_name), "rb").read()
    m = onnx.load(model_path, load_external_data=False)
    by_count = {}
    for name, arr in checkpoint.items():
        by_count.setdefault(arr.size, []).append(name)
    entries, payload = [], bytearray()

    from onnx.external_data_helper import _get_all_tensors
    for t in _get_all_tensors(m):
        if t.data_location != TensorProto.EXTERNAL:
            continue
        info = {kv.key: kv.value for kv in t.external_data}
        off, ln = int(info.get("offset", 0)), int(info["length"])
        raw = data[off:off + ln]
        e = {"name": t.name, "offset": off, "length": ln}
        if t.data_type == TensorProto.FLOAT and len(t.dims) in (1, 2):
            arr = np.frombuffer(raw, np.float32).reshape(tuple(t.dims))
            for cand in by_count.get(arr.size, []):
                w = checkpoint[cand]
                if w.shape == arr.shape and np.array_equal(w, arr):
                    e["source"] = {"tensor": cand, "transpose": False}
                    break
                if len(arr.shape) == 2 and w.shape == arr.shape[::-1] and np.array_equal(w.T, arr):
                    e["source"] = {"tensor": cand, "transpose": True}
                    break
        if "source" not in e:
            e["payload"] = {"offset": len(payload), "length": ln}
            payload += raw
        entries.append(e)
    return {"file": data_name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "tensors": entries}, bytes(payload)


def requantize_decoder(onnx_dir):
    """Local repair of a bundle made before quantize_if_branches existed: checks quantize_weights against the
    bundle's ORT-quantized encoder, then rebuilds decoder_model_merged_quantized.onnx from the fp32 decoder."""
    enc = onnx.load(os.path.join(onnx_dir, "encoder_model.onnx"))
    encq = onnx.load(os.path.join(onnx_dir, "encoder_model_quantized.onnx"))
    fl = {t.name: t for t in enc.graph.initializer}
    qi = {t.name: t for t in encq.graph.initializer}
    checked = 0
    matmul_weights = {n.input[1] for n in encq.graph.node if n.op_type == "MatMulInteger"}
    for name, t in qi.items():
        if name not in matmul_weights or not name.endswith("_quantized") or name[: -len("_quantized")] not in fl:
            continue
        base = name[: -len("_quantized")]
        q, scale = quantize_weights(numpy_helper.to_array(fl[base]).astype(np.float32))
        if not (np.array_equal(q, numpy_helper.to_array(t)) and np.array_equal(scale, numpy_helper.to_array(qi[base + "_scale"]))):
            raise SystemExit(f"quantize_weights differs from onnxruntime on {base}")
        checked += 1
    log(f"quantize_weights == onnxruntime quantize_dynamic on all {checked} encoder weights")
    dec = onnx.load(os.path.join(onnx_dir, "decoder_model_merged.onnx"))
    n = quantize_if_branches(dec)
    path = os.path.join(onnx_dir, "decoder_model_merged_quantized.onnx")
    for f in (path, path + "_data"):
        if os.path.exists(f):
            os.remove(f)
    onnx.save_model(dec, path, save_as_external_data=True, all_tensors_to_one_file=True, location="decoder_model_merged_quantized.onnx_data", size_threshold=1024)
    log(f"decoder_model_merged_quantized.onnx: {n} MatMuls quantized")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--requantize-decoder":
        return requantize_decoder(sys.argv[2])
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--golden", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-new", type=int, default=64)
    ap.add_argument("--cases", type=int, default=48)
    args = ap.parse_args()
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    import transformers
    from transformers import AutoConfig, MBartForConditionalGeneration

    onnx_dir = os.path.join(args.out, "onnx")
    work = os.path.join(args.out, "work")
    os.makedirs(onnx_dir, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}")
    cfg = AutoConfig.from_pretrained(args.model)
    try:
        model = MBartForConditionalGeneration.from_pretrained(args.model, dtype=torch.float32, attn_implementation="eager").eval()
    except TypeError:
        model = MBartForConditionalGeneration.from_pretrained(args.model, torch_dtype=torch.float32, attn_implementation="eager").eval()
    p = Parts(model)
    L, H, hd = p.layers, p.heads, p.hd
    B, S = 2, 7
    ids = torch.randint(4, cfg.vocab_size, (B, S))
    am = torch.ones(B, S, dtype=torch.long)
    with torch.no_grad():
        enc_out = Encoder(p)(ids, am)
        # the hand-written encoder against HF's
        ref = model.model.encoder(input_ids=ids, attention_mask=am).last_hidden_state
        log(f"encoder vs HF max |diff| {float((enc_out - ref).abs().max()):.2e}")
        enc_path = os.path.join(work, "encoder_model.onnx")
        export(Encoder(p), (ids, am), enc_path, ["input_ids", "attention_mask"], ["last_hidden_state"],
               {"input_ids": {0: "batch_size", 1: "encoder_sequence_length"}, "attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
                "last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"}})
        log("encoder exported")
        dec_in = torch.full((B, 1), cfg.decoder_start_token_id, dtype=torch.long)
        first = DecoderStep(p, False)(dec_in, am, enc_out)
        pres_names = pkv_names("present", L)
        past_names = pkv_names("past_key_values", L)
        dyn_pres = {}
        for n in pres_names:
            dyn_pres[n] = {0: "batch_size", 2: "past_decoder_sequence_length + 1" if ".decoder." in n else "encoder_sequence_length_out"}
        p0 = os.path.join(work, "decoder_model.onnx")
        export(DecoderStep(p, False), (dec_in, am, enc_out), p0, ["input_ids", "encoder_attention_mask", "encoder_hidden_states"],
               ["logits", *pres_names],
               {"input_ids": {0: "batch_size", 1: "decoder_sequence_length"}, "encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
                "encoder_hidden_states": {0: "batch_size", 1: "encoder_sequence_length"}, "logits": {0: "batch_size", 1: "decoder_sequence_length"},
                **{n: {0: "batch_size", 2: ("past_decoder_sequence_length + 1" if ".decoder." in n else "encoder_sequence_length_out")} for n in pres_names}})
        log("decoder (first step) exported")
        past = list(first[1:])
        # grow the example past to 3 positions (an exporter that specialises sizes 0/1 must not fix it)
        step = DecoderStep(p, True)
        for _ in range(2):
            r = step(dec_in, am, enc_out, *past)
            for i in range(L):
                past[4 * i], past[4 * i + 1] = r[1 + 2 * i], r[2 + 2 * i]
        p1 = os.path.join(work, "decoder_with_past_model.onnx")
        dyn_past = {n: {0: "batch_size", 2: ("past_decoder_sequence_length" if ".decoder." in n else "encoder_sequence_length_out")} for n in past_names}
        export(DecoderStep(p, True), (dec_in, am, enc_out, *past), p1, ["input_ids", "encoder_attention_mask", "encoder_hidden_states", *past_names],
               ["logits", *[n for n in pres_names if ".decoder." in n]],
               {"input_ids": {0: "batch_size", 1: "decoder_sequence_length"}, "encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
                "encoder_hidden_states": {0: "batch_size", 1: "encoder_sequence_length"}, "logits": {0: "batch_size", 1: "decoder_sequence_length"},
                **dyn_past, **{n: {0: "batch_size", 2: "past_decoder_sequence_length + 1"} for n in pres_names if ".decoder." in n}})
        log("decoder (with past) exported")
    merged = merge_decoders(onnx.load(p0), onnx.load(p1), L, H, hd)
    # save fp32 graphs with external data next to them
    def save(m, name):
        path = os.path.join(onnx_dir, name)
        for f in (path, path + "_data"):
            if os.path.exists(f):
                os.remove(f)
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location=name + "_data", size_threshold=1024)
        return path

    enc_fp32 = save(onnx.load(enc_path), "encoder_model.onnx")
    dec_fp32 = save(merged, "decoder_model_merged.onnx")
    log("fp32 models saved")
    qopts = dict(per_channel=True, reduce_range=False, weight_type=QuantType.QInt8, extra_options={"MatMulConstBOnly": True})
    enc_q_tmp, dec_q_tmp = os.path.join(work, "encoder_q.onnx"), os.path.join(work, "decoder_q.onnx")
    quantize_dynamic(enc_fp32, enc_q_tmp, **qopts)
    try:
        quantize_dynamic(dec_fp32, dec_q_tmp, **qopts)
        dec_q_model = onnx.load(dec_q_tmp)
    except Exception as e:  # noqa: BLE001  (an onnxruntime whose quantizer does not enter If branches)
        log(f"quantizing the merged decoder failed ({type(e).__name__}: {e}); quantizing both parts, then merging")
        q0, q1 = os.path.join(work, "decoder_q0.onnx"), os.path.join(work, "decoder_q1.onnx")
        quantize_dynamic(p0, q0, **qopts)
        quantize_dynamic(p1, q1, **qopts)
        dec_q_model = merge_decoders(onnx.load(q0), onnx.load(q1), L, H, hd)
    n = quantize_if_branches(dec_q_model)
    if n:
        log(f"quantized {n} MatMuls inside the If branches that quantize_dynamic left in float")
    enc_q = save(onnx.load(enc_q_tmp), "encoder_model_quantized.onnx")
    dec_q = save(dec_q_model, "decoder_model_merged_quantized.onnx")
    log("int8 models saved")

    # ---- validation against HF generate
    try:
        validate(args, cfg, model, L, H, hd, ort, enc_fp32, dec_fp32, enc_q, dec_q)
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        log(f"validation failed: {e}")
    write_bundle(args, onnx_dir, torch, transformers, ort)


def validate(args, cfg, model, L, H, hd, ort, enc_fp32, dec_fp32, enc_q, dec_q):
    golden = json.load(open(args.golden))["cases"][: args.cases]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 4
    sess = {k: ort.InferenceSession(v, so, providers=["CPUExecutionProvider"]) for k, v in
            {"enc": enc_fp32, "dec": dec_fp32, "encq": enc_q, "decq": dec_q}.items()}
    eos = cfg.eos_token_id
    res = {"cases": 0, "fp32_equal": 0, "int8_equal": 0, "mismatch_fp32": [], "mismatch_int8": []}
    for c in golden:
        src = c["src_ids"]
        fb = c.get("forced_bos_id")
        with torch.no_grad():
            hf = model.generate(torch.tensor([src]), attention_mask=torch.ones(1, len(src), dtype=torch.long), num_beams=1, do_sample=False,
                                max_new_tokens=args.max_new, forced_bos_token_id=fb)[0].tolist()
        a = ort_greedy(sess["enc"], sess["dec"], src, fb, cfg.decoder_start_token_id, eos, args.max_new, L, H, hd)
        b = ort_greedy(sess["encq"], sess["decq"], src, fb, cfg.decoder_start_token_id, eos, args.max_new, L, H, hd)
        res["cases"] += 1
        if a == hf:
            res["fp32_equal"] += 1
        else:
            res["mismatch_fp32"].append({"id": c.get("id"), "hf": hf, "onnx": a})
        if b == hf:
            res["int8_equal"] += 1
        else:
            res["mismatch_int8"].append({"id": c.get("id")})
        gold = c.get("greedy", {}).get("ids")
        if gold is not None and gold != hf:
            res.setdefault("hf_vs_golden_differs", []).append(c.get("id"))
    # batches with right padding (as transformers.js feeds them): every row's tokens up to its </s> must be the
    # tokens it gets alone
    singles = {}
    for c in golden:
        singles[c.get("id")] = ort_greedy(sess["enc"], sess["dec"], c["src_ids"], c.get("forced_bos_id"), cfg.decoder_start_token_id, eos, args.max_new, L, H, hd)
    res["batched_rows"] = res["batched_equal"] = 0
    for i in range(0, len(golden), 8):
        chunk = golden[i:i + 8]
        rows = ort_greedy_batch(sess["enc"], sess["dec"], chunk, cfg.pad_token_id, cfg.decoder_start_token_id, eos, args.max_new, L, H, hd)
        for c, r in zip(chunk, rows):
            res["batched_rows"] += 1
            res["batched_equal"] += r == singles[c.get("id")]
    log(f"batched (8 rows, right padding) == one by one: {res['batched_equal']}/{res['batched_rows']}")
    log(f"validation: fp32 {res['fp32_equal']}/{res['cases']}, int8 {res['int8_equal']}/{res['cases']} equal to HF generate")
    json.dump(res, open(os.path.join(args.out, "validation.json"), "w"), indent=1)


def write_bundle(args, onnx_dir, torch, transformers, ort):
    res = {"cases": 0, "fp32_equal": 0, "int8_equal": 0}
    vpath = os.path.join(args.out, "validation.json")
    if os.path.exists(vpath):
        res = json.load(open(vpath))
    bundle = os.path.join(args.out, "bundle")
    os.makedirs(os.path.join(bundle, "onnx"), exist_ok=True)
    ckpt = {}
    from safetensors.numpy import load_file
    import glob
    for f in sorted(glob.glob(os.path.join(args.model, "*.safetensors"))):
        for k, v in load_file(f).items():
            ckpt[k] = v.astype(np.float32)
    manifests = {}
    for name in ("encoder_model.onnx", "decoder_model_merged.onnx"):
        man, payload = fp32_manifest(os.path.join(onnx_dir, name), name + "_data", ckpt)
        open(os.path.join(bundle, "onnx", name + "_data.payload"), "wb").write(payload)
        man["payload_sha256"] = hashlib.sha256(payload).hexdigest()
        manifests[name + "_data"] = man
        os.link(os.path.join(onnx_dir, name), os.path.join(bundle, "onnx", name))
        log(f"{name}_data: {man['size']} bytes, {sum('source' in e for e in man['tensors'])} tensors from the checkpoint, payload {len(payload)} bytes")
    for name in ("encoder_model_quantized.onnx", "decoder_model_merged_quantized.onnx"):
        for f in (name, name + "_data"):
            os.link(os.path.join(onnx_dir, f), os.path.join(bundle, "onnx", f))
    json.dump({"format": "glossa-onnx-bundle/1", "fp32_external_data": manifests, "validation": {k: res[k] for k in ("cases", "fp32_equal", "int8_equal")},
               "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__},
               "quantization": {"method": "onnxruntime.quantization.quantize_dynamic", "per_channel": True, "reduce_range": False, "weight_type": "QInt8",
                                "activations": "QUInt8 (dynamic)", "extra_options": {"MatMulConstBOnly": True}}},
              open(os.path.join(bundle, "manifest.json"), "w"), indent=1)
    log("bundle written")


if __name__ == "__main__":
    sys.exit(main())
