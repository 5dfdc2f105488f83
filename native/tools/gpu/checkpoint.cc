#include "checkpoint.h"

#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace glossa {
namespace tool {

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot read");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

namespace {

bool exists(const std::string& p) { return static_cast<bool>(std::ifstream(p)); }

void readHeader(const std::string& file, std::vector<TensorEntry>& out, const std::set<std::string>* only) {
  std::ifstream f(file, std::ios::binary);
  if (!f) throw std::runtime_error(file + ": cannot read");
  std::uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  if (!f || n > (100u << 20)) throw std::runtime_error(file + ": bad safetensors header");
  std::string h(n, '\0');
  f.read(&h[0], static_cast<std::streamsize>(n));
  const Json j = Json::parse(h);
  for (const auto& kv : j.obj) {
    if (kv.first == "__metadata__") continue;
    if (only && !only->count(kv.first)) continue;
    TensorEntry e;
    e.name = kv.first;
    e.file = file;
    e.dtype = kv.second["dtype"].str;
    for (const Json& d : kv.second["shape"].arr) e.shape.push_back(static_cast<std::int64_t>(d.num));
    const Json& off = kv.second["data_offsets"];
    e.offset = 8 + n + static_cast<std::size_t>(off[0].num);
    e.bytes = static_cast<std::size_t>(off[1].num - off[0].num);
    out.push_back(std::move(e));
  }
}

}  // namespace

Checkpoint readCheckpoint(const std::string& dir) {
  Checkpoint ck;
  const Json c = Json::parse(readFile(dir + "/config.json"));
  const Json g = exists(dir + "/generation_config.json") ? Json::parse(readFile(dir + "/generation_config.json")) : Json();
  if (c["model_type"].str != "mbart") throw std::runtime_error(dir + "/config.json: not an mBART model");
  ModelConfig& m = ck.config;
  m.dModel = c["d_model"].asInt();
  m.encoderLayers = c["encoder_layers"].asInt();
  m.decoderLayers = c["decoder_layers"].asInt();
  m.encoderHeads = c["encoder_attention_heads"].asInt();
  m.decoderHeads = c["decoder_attention_heads"].asInt();
  m.encoderFfn = c["encoder_ffn_dim"].asInt();
  m.decoderFfn = c["decoder_ffn_dim"].asInt();
  m.vocabSize = c["vocab_size"].asInt();
  m.maxPositions = c["max_position_embeddings"].asInt();
  const std::string act = c.has("activation_function") ? c["activation_function"].str : "gelu";
  m.activation = act == "relu" ? Activation::Relu : act == "gelu_new" ? Activation::GeluTanh : Activation::Gelu;
  m.scaleEmbedding = c["scale_embedding"].type == Json::Bool && c["scale_embedding"].b;
  m.tieWordEmbeddings = !(c["tie_word_embeddings"].type == Json::Bool && !c["tie_word_embeddings"].b);
  auto pick = [&](const char* k, int fallback) { return g.has(k) ? g[k].asInt() : c.has(k) ? c[k].asInt() : fallback; };
  const Json& eos = g.has("eos_token_id") ? g["eos_token_id"] : c["eos_token_id"];
  m.eosId = eos.type == Json::Array ? eos[0].asInt() : eos.asInt(2);
  m.padId = pick("pad_token_id", 1);
  m.decoderStartId = pick("decoder_start_token_id", m.eosId);
  const Json& forced = g.obj.count("forced_eos_token_id") ? g["forced_eos_token_id"] : c["forced_eos_token_id"];
  m.forcedEosId = forced.type == Json::Array ? forced[0].asInt() : forced.asInt(-1);
  m.minLength = g["min_length"].asInt(0);
  if (exists(dir + "/model.safetensors.index.json")) {
    const Json idx = Json::parse(readFile(dir + "/model.safetensors.index.json"));
    std::map<std::string, std::set<std::string>> files;
    for (const auto& kv : idx["weight_map"].obj) files[kv.second.str].insert(kv.first);
    for (const auto& f : files) readHeader(dir + "/" + f.first, ck.tensors, &f.second);
  } else {
    readHeader(dir + "/model.safetensors", ck.tensors, nullptr);
  }
  return ck;
}

}  // namespace tool
}  // namespace glossa
