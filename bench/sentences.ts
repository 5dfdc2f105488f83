/** Our own English sentences (not corpus text), varied in length, for the engine benchmarks. */
export const BENCH_SENTENCES: readonly string[] = [
  "The train leaves at seven in the morning.",
  "My sister likes to read books in the garden when the weather is warm.",
  "Please close the window before you go to bed.",
  "The new library opens next week and everyone in town is invited.",
  "He forgot his umbrella, so he came home completely wet.",
  "We are planning a short trip to the mountains in the spring.",
  "Could you tell me where the nearest pharmacy is?",
  "The meeting was moved to Thursday because the manager was ill.",
];
