// Reads an mBART checkpoint folder for the GPU tool (config.json, generation_config.json, safetensors headers):
// the C++ restatement of src/engine/loader.ts's parseConfig and header reading, for machines without Node.
#pragma once
#include <string>
#include <vector>

#include "model/config.h"
#include "model/weight_store.h"
#include "json.h"

namespace glossa {
namespace tool {

struct Checkpoint {
  ModelConfig config;
  std::vector<TensorEntry> tensors;
};

std::string readFile(const std::string& path);
Checkpoint readCheckpoint(const std::string& dir);

}  // namespace tool
}  // namespace glossa
