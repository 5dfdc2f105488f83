#include "quant/quant_binding.h"

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "quant/calib_session.h"
#include "quant/quantizers.h"

namespace glossa {
namespace {

int intOf(const Napi::Object& o, const char* key, int fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined() || o.Get(key).IsNull()) return fallback;
  if (!o.Get(key).IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return o.Get(key).As<Napi::Number>().Int32Value();
}
double numOf(const Napi::Object& o, const char* key, double fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined() || o.Get(key).IsNull()) return fallback;
  if (!o.Get(key).IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return o.Get(key).As<Napi::Number>().DoubleValue();
}
std::string strOf(const Napi::Object& o, const char* key, const std::string& fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return fallback;
  return o.Get(key).ToString().Utf8Value();
}
bool boolOf(const Napi::Object& o, const char* key, bool fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return fallback;
  return o.Get(key).ToBoolean().Value();
}

// The config fields the calibration model needs (same keys as the engine's loadEngine config).
ModelConfig configOf(const Napi::Object& c) {
  ModelConfig m;
  m.dModel = intOf(c, "dModel", 0);
  m.encoderLayers = intOf(c, "encoderLayers", 0);
  m.decoderLayers = intOf(c, "decoderLayers", 0);
  m.encoderHeads = intOf(c, "encoderHeads", 0);
  m.decoderHeads = intOf(c, "decoderHeads", 0);
  m.encoderFfn = intOf(c, "encoderFfn", 0);
  m.decoderFfn = intOf(c, "decoderFfn", 0);
  m.vocabSize = intOf(c, "vocabSize", 0);
  m.maxPositions = intOf(c, "maxPositions", 0);
  const std::string act = strOf(c, "activation", "gelu");
  m.activation = act == "relu" ? Activation::Relu : (act == "gelu" ? Activation::Gelu : Activation::GeluTanh);
  m.scaleEmbedding = boolOf(c, "scaleEmbedding", false);
  m.decoderStartId = intOf(c, "decoderStartId", 2);
  m.layerNormEps = static_cast<float>(numOf(c, "layerNormEps", 1e-5));
  if (m.dModel <= 0 || m.encoderHeads <= 0 || m.decoderHeads <= 0 || m.dModel % m.encoderHeads || m.dModel % m.decoderHeads ||
      m.vocabSize <= 0 || m.maxPositions <= 0)
    throw Napi::Error::New(c.Env(), "calibration session: invalid model config");
  return m;
}

std::vector<TensorEntry> tensorsOf(const Napi::Array& a) {
  std::vector<TensorEntry> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Object t = a.Get(i).As<Napi::Object>();
    TensorEntry e;
    e.name = strOf(t, "name", "");
    e.file = strOf(t, "file", "");
    e.offset = static_cast<std::size_t>(numOf(t, "offset", 0));
    e.bytes = static_cast<std::size_t>(numOf(t, "bytes", 0));
    e.dtype = strOf(t, "dtype", "");
    Napi::Array shape = t.Get("shape").As<Napi::Array>();
    for (uint32_t j = 0; j < shape.Length(); ++j)
      e.shape.push_back(static_cast<std::int64_t>(shape.Get(j).As<Napi::Number>().DoubleValue()));
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<int> intsOf(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an Int32Array");
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  return std::vector<int>(a.Data(), a.Data() + a.ElementLength());
}

Napi::Float32Array floats(Napi::Env env, const float* p, std::size_t n) {
  Napi::Float32Array a = Napi::Float32Array::New(env, n);
  if (n) std::memcpy(a.Data(), p, n * 4);
  return a;
}

class CalibSessionWrap;

class StatsWorker : public Napi::AsyncWorker {
 public:
  StatsWorker(Napi::Env env, CalibSessionWrap* s, Napi::Object self, std::vector<CalibExample> ex, int rows, std::uint64_t seed);
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  CalibSessionWrap* s_;
  Napi::ObjectReference self_;
  Napi::Promise::Deferred deferred_;
  std::vector<CalibExample> ex_;
  int rows_;
  std::uint64_t seed_;
  std::vector<UnitStats> out_;
};

class QuantizeWorker : public Napi::AsyncWorker {
 public:
  QuantizeWorker(Napi::Env env, CalibSessionWrap* s, Napi::Object self, RecipeOptions opt);
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  CalibSessionWrap* s_;
  Napi::ObjectReference self_;
  Napi::Promise::Deferred deferred_;
  RecipeOptions opt_;
  RecipeResult out_;
};

class CalibSessionWrap : public Napi::ObjectWrap<CalibSessionWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CalibSession",
                       {InstanceMethod("collectStats", &CalibSessionWrap::CollectStats),
                        InstanceMethod("quantize", &CalibSessionWrap::Quantize),
                        InstanceMethod("progress", &CalibSessionWrap::GetProgress),
                        InstanceMethod("dispose", &CalibSessionWrap::Dispose)});
  }
  explicit CalibSessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CalibSessionWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsArray() || !info[2].IsObject())
      throw Napi::TypeError::New(env, "createCalibSession(config, tensors, {threads})");
    const ModelConfig cfg = configOf(info[0].As<Napi::Object>());
    const auto tensors = tensorsOf(info[1].As<Napi::Array>());
    const int threads = intOf(info[2].As<Napi::Object>(), "threads", 1);
    try {
      session_ = std::make_unique<CalibSession>(cfg, tensors, threads < 1 ? 1 : threads);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }
  CalibSession& session() { return *session_; }
  std::atomic<bool> busy{false};

 private:
  void requireIdle(Napi::Env env) {
    if (!session_) throw Napi::Error::New(env, "calibration session disposed");
    if (busy.load()) throw Napi::Error::New(env, "calibration session busy");
  }
  Napi::Value CollectStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireIdle(env);
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "collectStats(examples, options)");
    Napi::Array a = info[0].As<Napi::Array>();
    std::vector<CalibExample> ex;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Object o = a.Get(i).As<Napi::Object>();
      ex.push_back({intsOf(o.Get("src"), "src"), intsOf(o.Get("labels"), "labels")});
    }
    Napi::Object opt = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    busy.store(true);
    auto* w = new StatsWorker(env, this, info.This().As<Napi::Object>(), std::move(ex), intOf(opt, "sampleRows", 512),
                              static_cast<std::uint64_t>(numOf(opt, "seed", 1)));
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }
  Napi::Value Quantize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireIdle(env);
    Napi::Object o = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
    RecipeOptions r;
    r.recipe = strOf(o, "recipe", "int8");
    r.groupSize = intOf(o, "groupSize", 128);
    r.klBudget = numOf(o, "klBudget", r.klBudget);
    r.a8Threshold = numOf(o, "a8Threshold", r.a8Threshold);
    r.sensitivitySentences = intOf(o, "sensitivitySentences", r.sensitivitySentences);
    r.clip = boolOf(o, "clip", true);
    r.sensitivity = boolOf(o, "sensitivity", true);
    r.int4A8 = boolOf(o, "int4A8", false);
    r.lmHead = strOf(o, "lmHead", "f16");
    busy.store(true);
    auto* w = new QuantizeWorker(env, this, info.This().As<Napi::Object>(), r);
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }
  Napi::Value GetProgress(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!session_) return o;
    Progress& p = session_->progress();
    o.Set("phase", p.phase);
    o.Set("done", p.done.load());
    o.Set("total", p.total.load());
    return o;
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (busy.load()) throw Napi::Error::New(info.Env(), "calibration session busy");
    session_.reset();
    return info.Env().Undefined();
  }
  std::unique_ptr<CalibSession> session_;
};

StatsWorker::StatsWorker(Napi::Env env, CalibSessionWrap* s, Napi::Object self, std::vector<CalibExample> ex, int rows,
                         std::uint64_t seed)
    : Napi::AsyncWorker(env), s_(s), deferred_(Napi::Promise::Deferred::New(env)), ex_(std::move(ex)), rows_(rows), seed_(seed) {
  self_ = Napi::Persistent(self);
}
void StatsWorker::Execute() {
  try {
    out_ = s_->session().collectStats(ex_, rows_, seed_);
  } catch (const std::exception& e) {
    SetError(e.what());
  }
}
void StatsWorker::OnOK() {
  s_->busy.store(false);
  Napi::Env env = Env();
  Napi::Array a = Napi::Array::New(env, out_.size());
  for (std::size_t i = 0; i < out_.size(); ++i) {
    const UnitStats& u = out_[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("unit", u.unit);
    o.Set("inFeatures", u.in);
    o.Set("rows", Napi::Number::New(env, static_cast<double>(u.rows)));
    o.Set("absMax", floats(env, u.absMax.data(), u.absMax.size()));
    o.Set("meanAbs", floats(env, u.meanAbs.data(), u.meanAbs.size()));
    o.Set("sampledRows", u.sampled);
    a.Set(static_cast<uint32_t>(i), o);
  }
  deferred_.Resolve(a);
}
void StatsWorker::OnError(const Napi::Error& e) {
  s_->busy.store(false);
  deferred_.Reject(e.Value());
}

QuantizeWorker::QuantizeWorker(Napi::Env env, CalibSessionWrap* s, Napi::Object self, RecipeOptions opt)
    : Napi::AsyncWorker(env), s_(s), deferred_(Napi::Promise::Deferred::New(env)), opt_(std::move(opt)) {
  self_ = Napi::Persistent(self);
}
void QuantizeWorker::Execute() {
  try {
    out_ = s_->session().quantize(opt_);
  } catch (const std::exception& e) {
    SetError(e.what());
  }
}
void QuantizeWorker::OnOK() {
  s_->busy.store(false);
  Napi::Env env = Env();
  Napi::Object r = Napi::Object::New(env);
  Napi::Array ts = Napi::Array::New(env, out_.tensors.size());
  for (std::size_t i = 0; i < out_.tensors.size(); ++i) {
    const OutTensor& t = out_.tensors[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", t.name);
    o.Set("dtype", t.dtype);
    o.Set("precision", t.precision);
    Napi::Array sh = Napi::Array::New(env, t.shape.size());
    for (std::size_t j = 0; j < t.shape.size(); ++j) sh.Set(static_cast<uint32_t>(j), Napi::Number::New(env, static_cast<double>(t.shape[j])));
    o.Set("shape", sh);
    o.Set("data", Napi::Buffer<std::uint8_t>::Copy(env, t.data.data(), t.data.size()));
    ts.Set(static_cast<uint32_t>(i), o);
  }
  r.Set("tensors", ts);
  Napi::Array us = Napi::Array::New(env, out_.units.size());
  for (std::size_t i = 0; i < out_.units.size(); ++i) {
    const UnitReport& u = out_.units[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("unit", u.unit);
    Napi::Array parts = Napi::Array::New(env, u.parts.size());
    for (std::size_t j = 0; j < u.parts.size(); ++j) parts.Set(static_cast<uint32_t>(j), u.parts[j]);
    o.Set("parts", parts);
    o.Set("precision", u.precision);
    if (u.relErrW8A16 >= 0) o.Set("relErrW8A16", u.relErrW8A16);
    if (u.relErrW8A8 >= 0) o.Set("relErrW8A8", u.relErrW8A8);
    if (u.awqAlpha >= 0) {
      o.Set("awqAlpha", u.awqAlpha);
      o.Set("awqErrBefore", u.awqErrBefore);
      o.Set("awqErrAfter", u.awqErrAfter);
    }
    Napi::Object kl = Napi::Object::New(env);
    for (const auto& k : u.kl) kl.Set(k.first, k.second);
    o.Set("kl", kl);
    us.Set(static_cast<uint32_t>(i), o);
  }
  r.Set("units", us);
  r.Set("klEstimate", out_.klEstimate);
  r.Set("klMeasured", out_.klMeasured);
  r.Set("sensitivityRows", out_.sensitivityRows);
  deferred_.Resolve(r);
}
void QuantizeWorker::OnError(const Napi::Error& e) {
  s_->busy.store(false);
  deferred_.Reject(e.Value());
}

struct QuantAddonData {
  Napi::FunctionReference sessionCtor;
};

Napi::Value CreateCalibSession(const Napi::CallbackInfo& info) {
  auto* data = static_cast<QuantAddonData*>(info.Data());
  std::vector<napi_value> args;
  for (std::size_t i = 0; i < info.Length(); ++i) args.push_back(info[i]);
  return data->sessionCtor.New(args);
}

const float* floatArg(const Napi::CallbackInfo& info, std::size_t need) {
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(info.Env(), "weights must be a Float32Array");
  Napi::Float32Array w = info[0].As<Napi::Float32Array>();
  if (w.ElementLength() != need) throw Napi::RangeError::New(info.Env(), "weights length must be rows * cols");
  return w.Data();
}

// quantizeInt8(w, rows, cols) -> { q: Int8Array, scale: Float32Array, dequantized: Float32Array }
Napi::Value QuantizeInt8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int rows = info[1].As<Napi::Number>().Int32Value(), cols = info[2].As<Napi::Number>().Int32Value();
  if (rows <= 0 || cols <= 0) throw Napi::RangeError::New(env, "rows and cols must be positive");
  const float* w = floatArg(info, static_cast<std::size_t>(rows) * cols);
  std::vector<std::int8_t> q(static_cast<std::size_t>(rows) * cols);
  std::vector<float> s(static_cast<std::size_t>(rows)), deq(q.size());
  quantizeInt8Rows(w, rows, cols, q.data(), s.data());
  dequantizeInt8Rows(q.data(), s.data(), rows, cols, deq.data());
  Napi::Object o = Napi::Object::New(env);
  Napi::Int8Array qa = Napi::Int8Array::New(env, q.size());
  std::memcpy(qa.Data(), q.data(), q.size());
  o.Set("q", qa);
  o.Set("scale", floats(env, s.data(), s.size()));
  o.Set("dequantized", floats(env, deq.data(), deq.size()));
  return o;
}

// quantizeInt4(w, rows, cols, groupSize) -> { packed: Uint8Array, scaleF16: Uint16Array, zero: Uint8Array, groups, dequantized }
Napi::Value QuantizeInt4(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int rows = info[1].As<Napi::Number>().Int32Value(), cols = info[2].As<Napi::Number>().Int32Value();
  const int g = info[3].As<Napi::Number>().Int32Value();
  if (rows <= 0 || cols <= 0 || g <= 0 || g % 2) throw Napi::RangeError::New(env, "rows, cols positive; groupSize positive and even");
  const float* w = floatArg(info, static_cast<std::size_t>(rows) * cols);
  Int4Rows q = quantizeInt4Rows(w, rows, cols, g);
  std::vector<float> deq(static_cast<std::size_t>(rows) * cols);
  dequantizeInt4Rows(q, deq.data());
  Napi::Object o = Napi::Object::New(env);
  o.Set("packed", Napi::Buffer<std::uint8_t>::Copy(env, q.packed.data(), q.packed.size()));
  Napi::Uint16Array sa = Napi::Uint16Array::New(env, q.scaleF16.size());
  std::memcpy(sa.Data(), q.scaleF16.data(), q.scaleF16.size() * 2);
  o.Set("scaleF16", sa);
  o.Set("zero", Napi::Buffer<std::uint8_t>::Copy(env, q.zero.data(), q.zero.size()));
  o.Set("groups", q.groups);
  o.Set("dequantized", floats(env, deq.data(), deq.size()));
  return o;
}

}  // namespace

void registerQuantBindings(Napi::Env env, Napi::Object exports) {
  auto* data = new QuantAddonData();
  data->sessionCtor = Napi::Persistent(CalibSessionWrap::Define(env));
  env.AddCleanupHook([data]() { delete data; });
  exports.Set("createCalibSession", Napi::Function::New(env, CreateCalibSession, "createCalibSession", data));
  exports.Set("quantizeInt8", Napi::Function::New(env, QuantizeInt8));
  exports.Set("quantizeInt4", Napi::Function::New(env, QuantizeInt4));
}

}  // namespace glossa
