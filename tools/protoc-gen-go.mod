// protoc-gen-go is pinned in its own module file: buf v1.75.0 needs a newer
// google.golang.org/protobuf than v1.36.12, and the generated code must come from the
// same protoc-gen-go release as the runtime the main module uses.
module github.com/ringsim/ringsim/tools/protocgengo

go 1.26.3

tool google.golang.org/protobuf/cmd/protoc-gen-go

require google.golang.org/protobuf v1.36.12 // indirect
