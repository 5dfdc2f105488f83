// N-API surface of the calibration pipeline: createCalibSession(...) and the standalone quantizers.
#pragma once
#include <napi.h>

namespace glossa {
void registerQuantBindings(Napi::Env env, Napi::Object exports);
}
