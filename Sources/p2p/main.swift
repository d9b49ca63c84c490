import GGUF
import TensorCore
let f = try GGUFFile(path: CommandLine.arguments[1])
print(f.version, f.tensors.count, f.metadata.count, f.dataOffset, BLAS.coreName)
for k in f.metadataKeys { print(k, f.metadata[k]!) }
