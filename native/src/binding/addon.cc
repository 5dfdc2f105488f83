#include <napi.h>
// Placeholder module entry; the engine replaces this file.
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::String::New(env, "0.0.0"));
  return exports;
}
NODE_API_MODULE(glossa_native, Init)
