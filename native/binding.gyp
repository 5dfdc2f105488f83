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
      "ldflags": ["-pthread"],
      "variables": {
        "native_dir%": "<!(sh -c 'if [ -f cuda.sh ]; then pwd; else cd .. && pwd; fi')",
        "with_cuda%": "<!(sh -c 'sh cuda.sh enabled 2>/dev/null || sh ../cuda.sh enabled')",
        "cuda_home%": "<!(sh -c 'sh cuda.sh home 2>/dev/null || sh ../cuda.sh home')"
      },
      "conditions": [
        ["with_cuda==1", {
          "defines": ["GLOSSA_WITH_CUDA"],
          "include_dirs": ["<(cuda_home)/include"],
          "sources": [
            "src/backend/cuda/cublas_dyn.cu",
            "src/backend/cuda/norm.cu",
            "src/backend/cuda/attention.cu",
            "src/backend/cuda/linear.cu",
            "src/backend/cuda/search.cu",
            "src/backend/cuda/cuda_backend.cu"
          ],
          "rules": [{
            "rule_name": "nvcc",
            "extension": "cu",
            "outputs": ["<(INTERMEDIATE_DIR)/cuda/<(RULE_INPUT_ROOT).o"],
            "action": ["<(cuda_home)/bin/nvcc", "-std=c++17", "-O3", "<!@(sh -c 'sh cuda.sh archs 2>/dev/null || sh ../cuda.sh archs')", "-Xcompiler", "-fPIC",
                       "-DGLOSSA_WITH_CUDA", "-I<(native_dir)/src", "-c", "<(RULE_INPUT_PATH)", "-o",
                       "<(INTERMEDIATE_DIR)/cuda/<(RULE_INPUT_ROOT).o"],
            "message": "NVCC <(RULE_INPUT_PATH)",
            "process_outputs_as_sources": 1
          }],
          "libraries": ["<(cuda_home)/lib64/libcudart_static.a", "-ldl", "-lrt"]
        }]
      ]
    }
  ]
}
