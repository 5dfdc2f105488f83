// N-API binding: loadEngine(...) -> Promise<NativeEngine>; heavy work (loading, step) runs on worker
// threads (Napi::AsyncWorker), never on the Node event loop. While a step runs, other calls that touch
// engine state throw "busy" (the TypeScript wrapper queues adds and cancels instead).
#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "backend/registry.h"
#include "engine/engine_core.h"
#include "quant/quant_binding.h"

namespace glossa {
namespace {

int getInt(const Napi::Object& o, const char* key, int fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined() || o.Get(key).IsNull()) return fallback;
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().Int32Value();
}

double getDouble(const Napi::Object& o, const char* key, double fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return fallback;
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool getBool(const Napi::Object& o, const char* key, bool fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return fallback;
  return o.Get(key).ToBoolean().Value();
}

std::string getString(const Napi::Object& o, const char* key, const std::string& fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return fallback;
  return o.Get(key).ToString().Utf8Value();
}

ModelConfig parseConfig(const Napi::Object& c) {
  ModelConfig m;
  m.modelType = getString(c, "modelType", "mbart");
  m.dModel = getInt(c, "dModel", 0);
  m.encoderLayers = getInt(c, "encoderLayers", 0);
  m.decoderLayers = getInt(c, "decoderLayers", 0);
  m.encoderHeads = getInt(c, "encoderHeads", 0);
  m.decoderHeads = getInt(c, "decoderHeads", 0);
  m.encoderFfn = getInt(c, "encoderFfn", 0);
  m.decoderFfn = getInt(c, "decoderFfn", 0);
  m.vocabSize = getInt(c, "vocabSize", 0);
  m.maxPositions = getInt(c, "maxPositions", 0);
  const std::string act = getString(c, "activation", "gelu");
  if (act == "gelu") m.activation = Activation::Gelu;
  else if (act == "gelu_new" || act == "gelu_pytorch_tanh") m.activation = Activation::GeluTanh;
  else if (act == "relu") m.activation = Activation::Relu;
  else throw Napi::Error::New(c.Env(), "unsupported activation_function " + act);
  m.scaleEmbedding = getBool(c, "scaleEmbedding", false);
  m.tieWordEmbeddings = getBool(c, "tieWordEmbeddings", true);
  m.layerNormEps = static_cast<float>(getDouble(c, "layerNormEps", 1e-5));
  m.padId = getInt(c, "padId", 1);
  m.eosId = getInt(c, "eosId", 2);
  m.decoderStartId = getInt(c, "decoderStartId", 2);
  m.forcedEosId = getInt(c, "forcedEosId", -1);
  m.minLength = getInt(c, "minLength", 0);
  return m;
}

std::vector<TensorEntry> parseTensors(const Napi::Array& a) {
  std::vector<TensorEntry> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Object t = a.Get(i).As<Napi::Object>();
    TensorEntry e;
    e.name = getString(t, "name", "");
    e.file = getString(t, "file", "");
    e.offset = static_cast<std::size_t>(getDouble(t, "offset", 0));
    e.bytes = static_cast<std::size_t>(getDouble(t, "bytes", 0));
    e.dtype = getString(t, "dtype", "");
    Napi::Array shape = t.Get("shape").As<Napi::Array>();
    for (uint32_t j = 0; j < shape.Length(); ++j)
      e.shape.push_back(static_cast<std::int64_t>(shape.Get(j).As<Napi::Number>().DoubleValue()));
    out.push_back(std::move(e));
  }
  return out;
}

DecodeOptions parseOptions(const Napi::Object& o) {
  DecodeOptions d;
  d.beamSize = getInt(o, "beamSize", 1);
  d.maxNewTokens = getInt(o, "maxNewTokens", 64);
  d.lengthPenalty = static_cast<float>(getDouble(o, "lengthPenalty", 1.0));
  d.earlyStopping = getBool(o, "earlyStopping", true);
  d.noRepeatNgramSize = getInt(o, "noRepeatNgramSize", 0);
  d.repetitionPenalty = static_cast<float>(getDouble(o, "repetitionPenalty", 1.0));
  return d;
}

Napi::Array intArray(Napi::Env env, const std::vector<int>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (std::size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, v[i]));
  return a;
}

Napi::Float32Array floatArray(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  for (std::size_t i = 0; i < v.size(); ++i) a[i] = v[i];
  return a;
}

class NativeEngine : public Napi::ObjectWrap<NativeEngine> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeEngine",
                       {InstanceMethod("info", &NativeEngine::Info), InstanceMethod("add", &NativeEngine::Add),
                        InstanceMethod("step", &NativeEngine::Step), InstanceMethod("cancel", &NativeEngine::Cancel),
                        InstanceMethod("poolStats", &NativeEngine::PoolStats),
                        InstanceMethod("check", &NativeEngine::Check),
                        InstanceMethod("pending", &NativeEngine::Pending),
                        InstanceMethod("debugForward", &NativeEngine::DebugForward),
                        InstanceMethod("memory", &NativeEngine::Memory),
                        InstanceMethod("dispose", &NativeEngine::Dispose)});
  }

  explicit NativeEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeEngine>(info) {
    if (info.Length() < 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "NativeEngine is created by loadEngine()");
    core_.reset(info[0].As<Napi::External<EngineCore>>().Data());
  }

  EngineCore& core() { return *core_; }  // only while a step runs (never disposed then)
  std::atomic<bool>& busy() { return busy_; }

 private:
  void requireIdle(Napi::Env env) {
    if (busy_.load()) throw Napi::Error::New(env, "engine busy: a step is running");
    if (!core_) throw Napi::Error::New(env, "engine disposed");
  }

  // Frees weights, KV pool and threads now instead of at garbage collection.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (busy_.load()) throw Napi::Error::New(info.Env(), "engine busy: a step is running");
    core_.reset();
    return info.Env().Undefined();
  }

  static Napi::Object memoryObject(Napi::Env env, const DeviceMemory& mem) {
    Napi::Object m = Napi::Object::New(env);
    m.Set("totalBytes", Napi::Number::New(env, static_cast<double>(mem.total)));
    m.Set("freeBytes", Napi::Number::New(env, static_cast<double>(mem.free)));
    m.Set("usedBytes", Napi::Number::New(env, static_cast<double>(mem.used)));
    return m;
  }

  Napi::Value Memory(const Napi::CallbackInfo& info) {
    requireIdle(info.Env());
    return memoryObject(info.Env(), core_->backend().memory());
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireIdle(env);
    Napi::Object o = Napi::Object::New(env);
    o.Set("kernels", core_->backend().name());
    Napi::Array feats = Napi::Array::New(env);
    auto names = core_->cpu().names();
    for (std::size_t i = 0; i < names.size(); ++i) feats.Set(static_cast<uint32_t>(i), names[i]);
    o.Set("cpuFeatures", feats);
    o.Set("threads", core_->backend().threads());
    o.Set("precision", core_->precision());
    const Backend& b = core_->backend();
    o.Set("device", b.device());
    o.Set("deviceName", b.deviceName());
    o.Set("memory", memoryObject(env, b.memory()));
    o.Set("kvBlocks", core_->kvBlocks());
    return o;
  }

  Napi::Value Add(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireIdle(env);
    if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsNumber() || !info[3].IsObject())
      throw Napi::TypeError::New(env, "add(id, srcIds: Int32Array, forcedBosId, options)");
    Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
    if (ta.TypedArrayType() != napi_int32_array) throw Napi::TypeError::New(env, "srcIds must be an Int32Array");
    Napi::Int32Array ids = info[1].As<Napi::Int32Array>();
    GenerateRequest req;
    req.srcIds.assign(ids.Data(), ids.Data() + ids.ElementLength());
    req.forcedBosId = info[2].As<Napi::Number>().Int32Value();
    req.options = parseOptions(info[3].As<Napi::Object>());
    try {
      core_->add(static_cast<std::int64_t>(info[0].As<Napi::Number>().Int64Value()), std::move(req));
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
    return env.Undefined();
  }

  Napi::Value Step(const Napi::CallbackInfo& info);

  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    requireIdle(info.Env());
    return Napi::Boolean::New(info.Env(), core_->cancel(info[0].As<Napi::Number>().Int64Value()));
  }

  Napi::Value Pending(const Napi::CallbackInfo& info) {
    requireIdle(info.Env());
    return Napi::Number::New(info.Env(), core_->pending());
  }

  Napi::Value PoolStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireIdle(env);
    PoolSnapshot s = core_->poolStats();
    Napi::Object o = Napi::Object::New(env);
    o.Set("blockSize", s.blockSize);
    o.Set("totalBlocks", s.totalBlocks);
    o.Set("usedBlocks", s.usedBlocks);
    o.Set("freeBlocks", s.freeBlocks);
    Napi::Array reqs = Napi::Array::New(env, s.requests.size());
    for (std::size_t i = 0; i < s.requests.size(); ++i) {
      Napi::Object r = Napi::Object::New(env);
      r.Set("id", Napi::Number::New(env, static_cast<double>(s.requests[i].id)));
      r.Set("state", s.requests[i].state);
      r.Set("selfBlocks", s.requests[i].selfBlocks);
      r.Set("crossBlocks", s.requests[i].crossBlocks);
      reqs.Set(static_cast<uint32_t>(i), r);
    }
    o.Set("requests", reqs);
    return o;
  }

  Napi::Value Check(const Napi::CallbackInfo& info) {
    requireIdle(info.Env());
    auto errors = core_->check();
    Napi::Array a = Napi::Array::New(info.Env(), errors.size());
    for (std::size_t i = 0; i < errors.size(); ++i) a.Set(static_cast<uint32_t>(i), errors[i]);
    return a;
  }

  Napi::Value DebugForward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireIdle(env);
    if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "debugForward(srcIds: Int32Array)");
    Napi::Int32Array ids = info[0].As<Napi::Int32Array>();
    std::vector<int> src(ids.Data(), ids.Data() + ids.ElementLength());
    std::vector<float> enc, logits;
    try {
      core_->debugForward(src, enc, logits);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("encoderOut", floatArray(env, enc));
    o.Set("logits", floatArray(env, logits));
    return o;
  }

  std::unique_ptr<EngineCore> core_;
  std::atomic<bool> busy_{false};
};

class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, NativeEngine* engine, Napi::Object self, int budget)
      : Napi::AsyncWorker(env), engine_(engine), deferred_(Napi::Promise::Deferred::New(env)), budget_(budget) {
    selfRef_ = Napi::Persistent(self);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = engine_->core().step(budget_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override {
    engine_->busy().store(false);
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    Napi::Array progress = Napi::Array::New(env, result_.progress.size());
    for (std::size_t i = 0; i < result_.progress.size(); ++i) {
      Napi::Object p = Napi::Object::New(env);
      p.Set("id", Napi::Number::New(env, static_cast<double>(result_.progress[i].first)));
      p.Set("tokens", intArray(env, result_.progress[i].second));
      progress.Set(static_cast<uint32_t>(i), p);
    }
    o.Set("progress", progress);
    Napi::Array finished = Napi::Array::New(env, result_.finished.size());
    for (std::size_t i = 0; i < result_.finished.size(); ++i) {
      const GenerateResult& g = result_.finished[i].second;
      Napi::Object r = Napi::Object::New(env);
      r.Set("ids", intArray(env, g.ids));
      r.Set("score", Napi::Number::New(env, g.score));
      r.Set("finishReason", g.finishedByEos ? "eos" : "length");
      if (!g.alternatives.empty()) {
        Napi::Array alts = Napi::Array::New(env, g.alternatives.size());
        for (std::size_t k = 0; k < g.alternatives.size(); ++k) {
          const AlternativeResult& h = g.alternatives[k];
          Napi::Object a = Napi::Object::New(env);
          a.Set("ids", intArray(env, h.ids));
          a.Set("score", Napi::Number::New(env, h.score));
          a.Set("finishReason", h.finishedByEos ? "eos" : "length");
          alts.Set(static_cast<uint32_t>(k), a);
        }
        r.Set("alternatives", alts);
      }
      Napi::Object f = Napi::Object::New(env);
      f.Set("id", Napi::Number::New(env, static_cast<double>(result_.finished[i].first)));
      f.Set("result", r);
      finished.Set(static_cast<uint32_t>(i), f);
    }
    o.Set("finished", finished);
    Napi::Array failed = Napi::Array::New(env, result_.failed.size());
    for (std::size_t i = 0; i < result_.failed.size(); ++i) {
      Napi::Object f = Napi::Object::New(env);
      f.Set("id", Napi::Number::New(env, static_cast<double>(result_.failed[i].first)));
      f.Set("error", result_.failed[i].second);
      failed.Set(static_cast<uint32_t>(i), f);
    }
    o.Set("failed", failed);
    auto ids = [&](const std::vector<std::int64_t>& v) {
      Napi::Array a = Napi::Array::New(env, v.size());
      for (std::size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(v[i])));
      return a;
    };
    o.Set("encoded", ids(result_.encoded));
    o.Set("preempted", ids(result_.preempted));
    o.Set("batchSize", result_.batchSize);
    o.Set("encodedTokens", result_.encodedTokens);
    deferred_.Resolve(o);
  }

  void OnError(const Napi::Error& e) override {
    engine_->busy().store(false);
    deferred_.Reject(e.Value());
  }

 private:
  NativeEngine* engine_;
  Napi::ObjectReference selfRef_;  // keeps the engine alive while the step runs
  Napi::Promise::Deferred deferred_;
  int budget_;
  StepResult result_;
};

Napi::Value NativeEngine::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireIdle(env);
  const int budget = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  busy_.store(true);
  auto* w = new StepWorker(env, this, info.This().As<Napi::Object>(), budget);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, ModelConfig cfg, std::vector<TensorEntry> tensors, EngineOptions opt, Napi::Function ctor)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        cfg_(std::move(cfg)),
        tensors_(std::move(tensors)),
        opt_(std::move(opt)) {
    ctor_ = Napi::Persistent(ctor);
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      core_ = std::make_unique<EngineCore>(cfg_, tensors_, opt_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object obj = ctor_.New({Napi::External<EngineCore>::New(env, core_.release())});
    deferred_.Resolve(obj);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  ModelConfig cfg_;
  std::vector<TensorEntry> tensors_;
  EngineOptions opt_;
  Napi::FunctionReference ctor_;
  std::unique_ptr<EngineCore> core_;
};

struct AddonData {
  Napi::FunctionReference engineCtor;
};

Napi::Value LoadEngine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsArray() || !info[2].IsObject())
    throw Napi::TypeError::New(env, "loadEngine(config, tensors, options)");
  ModelConfig cfg = parseConfig(info[0].As<Napi::Object>());
  std::vector<TensorEntry> tensors = parseTensors(info[1].As<Napi::Array>());
  Napi::Object o = info[2].As<Napi::Object>();
  EngineOptions opt;
  opt.threads = getInt(o, "threads", 1);
  opt.kvBlocks = getInt(o, "kvBlocks", 256);
  opt.blockSize = getInt(o, "blockSize", 16);
  opt.kernels = getString(o, "kernels", "");
  opt.checkFinite = getBool(o, "checkFinite", true);
  opt.device = getString(o, "device", "cpu");
  opt.compute = getString(o, "compute", "");
  opt.deterministic = getBool(o, "deterministic", false);
  opt.cudaGraphs = getBool(o, "cudaGraphs", true);
  opt.hostSearchEmulation = getBool(o, "hostSearchEmulation", false);
  opt.kvMemoryFraction = getDouble(o, "kvMemoryFraction", 0.9);
  AddonData* data = env.GetInstanceData<AddonData>();
  auto* w = new LoadWorker(env, std::move(cfg), std::move(tensors), std::move(opt), data->engineCtor.Value());
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  Napi::Function ctor = NativeEngine::Define(env);
  data->engineCtor = Napi::Persistent(ctor);
  env.SetInstanceData<AddonData>(data);
  exports.Set("NativeEngine", ctor);
  exports.Set("loadEngine", Napi::Function::New(env, LoadEngine));
  exports.Set("version", Napi::String::New(env, "1.0.0"));
  exports.Set("cudaStatus", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    const std::string why = cudaUnavailableReason();
    o.Set("compiled", cudaCompiled());
    o.Set("available", why.empty());
    o.Set("reason", why);
    return o;
  }));
  registerQuantBindings(env, exports);  // calibration pipeline (src/calib)
  return exports;
}

}  // namespace
}  // namespace glossa

static Napi::Object InitGlossaNative(Napi::Env env, Napi::Object exports) { return glossa::Init(env, exports); }
NODE_API_MODULE(glossa_native, InitGlossaNative)
