// Deterministic synthetic checkpoint with the exact shape and Hugging Face layout of
// facebook/mbart-large-50-many-to-many-mmt (611M parameters, fp16 safetensors).
//
// Every value is a pure function of (tensor index, element index): no state carries from one element to
// the next, so the bytes are the same on every machine, compiler and thread count. Definition (README.md):
//   key_t   = mix(SEED + (t + 1) * GOLDEN)          t = index of the tensor in name order
//   h(t, i) = mix(key_t + (i + 1) * GOLDEN)          i = element index (row-major)
//   k       = (h >> 40) - 2^23                        24-bit signed integer in [-2^23, 2^23)
//   value   = mean + k * 2^-(23 + s)                  exact in double (mean and s per tensor kind)
//   fp16    = value rounded to nearest even (integer code below; no float conversion instruction)
// where mix is splitmix64's output function. Tensor kinds: see kindOf().
//
// Usage: synthetic_mbart OUT_DIR [--small]   (writes config.json, generation_config.json, model.safetensors)
// --small writes a 2+2-layer, vocab 4096 model with the same recipe (for quick checks).
// C++17, single file, no dependencies: g++ -O2 -std=c++17 -ffp-contract=off synthetic_mbart.cc
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <algorithm>

#include <fcntl.h>
#include <unistd.h>

namespace {

constexpr uint64_t kSeed = 0x676c6f7373613530ULL;  // "glossa50"
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Rounds mean + k * 2^-shift (k a signed 24-bit integer, mean in {0, 1}) to IEEE fp16, nearest even,
// with integer arithmetic only. The exact value is q * 2^-shift with q = mean * 2^shift + k (|q| < 2^62).
inline uint16_t toHalf(int64_t q, int shift) {
  if (q == 0) return 0;
  uint16_t sign = 0;
  if (q < 0) {
    sign = 0x8000;
    q = -q;
  }
  uint64_t m = static_cast<uint64_t>(q);
  int msb = 63 - __builtin_clzll(m);      // value = m * 2^-shift, leading bit 2^(msb - shift)
  int e = msb - shift;                     // unbiased exponent of the value
  if (e > 15) return sign | 0x7c00;        // never happens with the recipe (|value| < 2)
  // fp16 keeps 11 significant bits for normals (e >= -14), fewer for subnormals (unit 2^-24).
  int unitExp = e >= -14 ? e - 10 : -24;   // exponent of the last kept bit
  int drop = unitExp + shift;              // bits of m below that unit
  uint64_t kept;
  if (drop <= 0) {
    kept = m << (-drop);
  } else if (drop >= 64) {
    kept = 0;
  } else {
    kept = m >> drop;
    uint64_t rem = m & ((uint64_t{1} << drop) - 1);
    uint64_t half = uint64_t{1} << (drop - 1);
    if (rem > half || (rem == half && (kept & 1))) kept += 1;
  }
  // kept = significand in units of 2^unitExp. Normal: kept in [2^10, 2^11] (2^11 = carry into the exponent).
  if (e >= -14) {
    uint32_t biased = static_cast<uint32_t>(e + 15);
    uint32_t bits = (biased << 10) + static_cast<uint32_t>(kept - 1024);  // carry flows into the exponent
    if (bits >= 0x7c00) return sign | 0x7c00;
    return sign | static_cast<uint16_t>(bits);
  }
  // Subnormal (or rounds up to the smallest normal, 0x0400, which the same encoding gives).
  return sign | static_cast<uint16_t>(kept);
}

struct Shape {
  int vocab, d, ffn, encLayers, decLayers, maxPos;
};

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  int64_t count() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
  }
};

std::vector<Tensor> tensorsOf(const Shape& c) {
  std::vector<Tensor> out;
  const int64_t d = c.d;
  out.push_back({"model.shared.weight", {c.vocab, d}});
  out.push_back({"final_logits_bias", {1, c.vocab}});
  for (const char* side : {"encoder", "decoder"}) {
    const bool enc = std::strcmp(side, "encoder") == 0;
    const std::string s = std::string("model.") + side;
    out.push_back({s + ".embed_positions.weight", {c.maxPos + 2, d}});
    for (const char* n : {"layernorm_embedding", "layer_norm"}) {
      out.push_back({s + "." + n + ".weight", {d}});
      out.push_back({s + "." + n + ".bias", {d}});
    }
    const int layers = enc ? c.encLayers : c.decLayers;
    for (int i = 0; i < layers; i++) {
      const std::string p = s + ".layers." + std::to_string(i);
      std::vector<std::string> attn = {"self_attn"};
      if (!enc) attn.push_back("encoder_attn");
      for (const auto& a : attn) {
        for (const char* x : {"q", "k", "v", "out"}) {
          out.push_back({p + "." + a + "." + x + "_proj.weight", {d, d}});
          out.push_back({p + "." + a + "." + x + "_proj.bias", {d}});
        }
        out.push_back({p + "." + a + "_layer_norm.weight", {d}});
        out.push_back({p + "." + a + "_layer_norm.bias", {d}});
      }
      out.push_back({p + ".fc1.weight", {c.ffn, d}});
      out.push_back({p + ".fc1.bias", {c.ffn}});
      out.push_back({p + ".fc2.weight", {d, c.ffn}});
      out.push_back({p + ".fc2.bias", {d}});
      out.push_back({p + ".final_layer_norm.weight", {d}});
      out.push_back({p + ".final_layer_norm.bias", {d}});
    }
  }
  // safetensors orders data by name (all tensors share one dtype); the tensor index t follows this order.
  std::sort(out.begin(), out.end(), [](const Tensor& a, const Tensor& b) { return a.name < b.name; });
  return out;
}

bool endsWith(const std::string& s, const char* suf) {
  size_t n = std::strlen(suf);
  return s.size() >= n && s.compare(s.size() - n, n, suf) == 0;
}

// Per kind: mean (0 or 1) and amplitude 2^-a (value = mean + u * 2^-a, u uniform in [-1, 1)).
// amplitude 0 means all zeros (final_logits_bias is zero in the real checkpoint).
struct Kind {
  int mean;
  int ampLog2;  // -1: zeros
};

Kind kindOf(const std::string& name) {
  if (name == "final_logits_bias") return {0, -1};
  const bool norm = name.find("layer_norm") != std::string::npos || name.find("layernorm") != std::string::npos;
  if (norm) return endsWith(name, ".weight") ? Kind{1, 4} : Kind{0, 6};  // 1 +- 1/16, +- 1/64
  if (endsWith(name, ".bias")) return {0, 7};                              // +- 1/128
  return {0, 5};                                                           // weights, embeddings: +- 1/32
}

std::string shapeJson(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); i++) o += (i ? "," : "") + std::to_string(s[i]);
  return o + "]";
}

bool writeAll(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    c += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool writeText(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = (std::fclose(f) == 0) && ok;
  return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::string configJson(const Shape& c) {
  char buf[2048];
  std::snprintf(buf, sizeof buf,
                "{\n"
                "  \"_name_or_path\": \"synthetic-mbart-large-50-many-to-many-mmt\",\n"
                "  \"activation_dropout\": 0.0,\n"
                "  \"activation_function\": \"relu\",\n"
                "  \"architectures\": [\"MBartForConditionalGeneration\"],\n"
                "  \"attention_dropout\": 0.0,\n"
                "  \"bos_token_id\": 0,\n"
                "  \"classifier_dropout\": 0.0,\n"
                "  \"d_model\": %d,\n"
                "  \"decoder_attention_heads\": 16,\n"
                "  \"decoder_ffn_dim\": %d,\n"
                "  \"decoder_layerdrop\": 0.0,\n"
                "  \"decoder_layers\": %d,\n"
                "  \"decoder_start_token_id\": 2,\n"
                "  \"dropout\": 0.1,\n"
                "  \"encoder_attention_heads\": 16,\n"
                "  \"encoder_ffn_dim\": %d,\n"
                "  \"encoder_layerdrop\": 0.0,\n"
                "  \"encoder_layers\": %d,\n"
                "  \"eos_token_id\": 2,\n"
                "  \"forced_eos_token_id\": 2,\n"
                "  \"init_std\": 0.02,\n"
                "  \"is_encoder_decoder\": true,\n"
                "  \"max_position_embeddings\": %d,\n"
                "  \"model_type\": \"mbart\",\n"
                "  \"num_hidden_layers\": %d,\n"
                "  \"pad_token_id\": 1,\n"
                "  \"scale_embedding\": true,\n"
                "  \"tie_word_embeddings\": true,\n"
                "  \"torch_dtype\": \"float16\",\n"
                "  \"use_cache\": true,\n"
                "  \"vocab_size\": %d\n"
                "}\n",
                c.d, c.ffn, c.decLayers, c.ffn, c.encLayers, c.maxPos, c.encLayers, c.vocab);
  return buf;
}

const char* kGenerationConfig =
    "{\n"
    "  \"bos_token_id\": 0,\n"
    "  \"decoder_start_token_id\": 2,\n"
    "  \"early_stopping\": true,\n"
    "  \"eos_token_id\": 2,\n"
    "  \"forced_eos_token_id\": 2,\n"
    "  \"max_length\": 200,\n"
    "  \"num_beams\": 5,\n"
    "  \"pad_token_id\": 1\n"
    "}\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || (argc == 3 && std::strcmp(argv[2], "--small") != 0)) {
    std::fprintf(stderr, "usage: %s OUT_DIR [--small]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const bool small = argc == 3;
  const Shape shape = small ? Shape{4096, 64, 256, 2, 2, 128} : Shape{250054, 1024, 4096, 12, 12, 1024};
  const std::vector<Tensor> tensors = tensorsOf(shape);

  std::string header = "{\"__metadata__\":{\"format\":\"pt\",\"generator\":\"glossa tools/synthetic-mbart v1\"}";
  int64_t offset = 0, params = 0;
  for (const Tensor& t : tensors) {
    const int64_t bytes = t.count() * 2;
    header += ",\"" + t.name + "\":{\"dtype\":\"F16\",\"shape\":" + shapeJson(t.shape) + ",\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
    params += t.count();
  }
  header += "}";
  while ((8 + header.size()) % 8 != 0) header += ' ';

  const std::string path = dir + "/model.safetensors";
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "%s: cannot create: %s\n", tmp.c_str(), std::strerror(errno));
    return 1;
  }
  uint8_t len[8];
  for (int i = 0; i < 8; i++) len[i] = static_cast<uint8_t>((uint64_t(header.size()) >> (8 * i)) & 0xff);
  bool ok = writeAll(fd, len, 8) && writeAll(fd, header.data(), header.size());

  std::vector<uint8_t> buf(size_t{1} << 22);  // 4 MiB chunks, little-endian fp16
  int64_t done = 0;
  int lastPct = -1;
  const bool tty = ::isatty(2) != 0;
  auto progress = [&](int64_t at) {
    const int pct = int(at * 100 / params);
    if (pct / 10 == lastPct / 10) return;
    lastPct = pct;
    std::fprintf(stderr, tty ? "\rsynthetic-mbart: %3d%% (%" PRId64 " / %" PRId64 " parameters)"
                             : "synthetic-mbart: %3d%% (%" PRId64 " / %" PRId64 " parameters)\n",
                 pct, at, params);
  };
  for (size_t t = 0; ok && t < tensors.size(); t++) {
    const Kind kind = kindOf(tensors[t].name);
    const uint64_t key = mix(kSeed + (uint64_t(t) + 1) * kGolden);
    const int shift = 23 + kind.ampLog2;
    const int64_t meanQ = kind.mean ? (int64_t{1} << shift) : 0;
    const int64_t n = tensors[t].count();
    size_t fill = 0;
    for (int64_t i = 0; i < n; i++) {
      uint16_t h = 0;
      if (kind.ampLog2 >= 0) {
        const uint64_t r = mix(key + (uint64_t(i) + 1) * kGolden);
        const int64_t k = int64_t(r >> 40) - (int64_t{1} << 23);
        h = toHalf(meanQ + k, shift);
      }
      buf[fill++] = static_cast<uint8_t>(h & 0xff);
      buf[fill++] = static_cast<uint8_t>(h >> 8);
      if (fill == buf.size()) {
        ok = ok && writeAll(fd, buf.data(), fill);
        fill = 0;
        progress(done + i + 1);
      }
    }
    if (fill) ok = ok && writeAll(fd, buf.data(), fill);
    done += n;
    progress(done);
  }
  if (tty) std::fprintf(stderr, "\n");
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::fprintf(stderr, "%s: write failed: %s\n", path.c_str(), std::strerror(errno));
    return 1;
  }
  if (!writeText(dir + "/config.json", configJson(shape)) ||
      !writeText(dir + "/generation_config.json", kGenerationConfig)) {
    std::fprintf(stderr, "%s: cannot write config files\n", dir.c_str());
    return 1;
  }
  std::printf("%s: %zu tensors, %" PRId64 " parameters, %" PRId64 " bytes of fp16 data\n", path.c_str(),
              tensors.size(), params, offset);
  return 0;
}
