#pragma once
#include <string>

#include "backend/backend.h"

namespace glossa {

// The parts of an mBART-family config.json / generation_config.json the engine uses
// (parsed and validated in TypeScript, passed down as plain values).
struct ModelConfig {
  std::string modelType = "mbart";
  int dModel = 0;
  int encoderLayers = 0;
  int decoderLayers = 0;
  int encoderHeads = 0;
  int decoderHeads = 0;
  int encoderFfn = 0;
  int decoderFfn = 0;
  int vocabSize = 0;
  int maxPositions = 0;
  Activation activation = Activation::Gelu;
  bool scaleEmbedding = false;
  bool tieWordEmbeddings = true;
  float layerNormEps = 1e-5f;
  int padId = 1;
  int eosId = 2;
  int decoderStartId = 2;
  int forcedEosId = -1;  // -1: none
  int minLength = 0;
};

}  // namespace glossa
