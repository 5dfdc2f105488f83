/** The sacreBLEU version whose behaviour (and signature `version:` field) these metrics reproduce. */
export const SACREBLEU_VERSION = "2.6.0";
