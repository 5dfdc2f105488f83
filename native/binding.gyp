{
  "targets": [
    {
      "target_name": "glossa_native",
      "sources": [
        "src/binding/addon.cc",
        "src/core/thread_pool.cc",
        "src/core/cpu_features.cc",
        "src/core/mapped_file.cc",
        "src/kernels/select.cc",
        "src/kernels/generic.cc",
        "src/kernels/avx2.cc",
        "src/kernels/avx512.cc",
        "src/backend/backend.cc",
        "src/backend/registry.cc",
        "src/backend/cpu_backend.cc",
        "src/model/tensor_ref.cc",
        "src/model/weight_store.cc",
        "src/model/mbart.cc",
        "src/kvcache/block_pool.cc",
        "src/decode/search.cc",
        "src/engine/engine_core.cc",
        "src/quant/quant_kernels_generic.cc",
        "src/quant/quant_kernels_avx2.cc",
        "src/quant/quant_kernels_avx512.cc",
        "src/quant/quantized_linear.cc",
        "src/quant/quantizers.cc",
        "src/quant/calib_session.cc",
        "src/quant/quant_binding.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "src"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-pthread", "-Wall", "-Wno-unused-parameter"],
      "ldflags": ["-pthread"]
    }
  ]
}
