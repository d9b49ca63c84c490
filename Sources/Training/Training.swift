// The Training module: LoRA fine-tuning (see the files of this folder).
