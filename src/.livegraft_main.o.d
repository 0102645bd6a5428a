/work/main/src/.livegraft_main.o.d: /work/main/src/livegraft_main.rs /work/main/src/core.rs /work/main/src/direct.rs /work/main/src/ftrace.rs /work/main/src/patch.rs /work/main/src/safepoints.rs /work/main/src/stack.rs /work/main/src/symbols.rs /work/main/src/sys.rs /work/main/src/sysfs.rs /work/main/src/tracepoint.rs /work/main/src/transition.rs /work/main/src/worker.rs /work/main/src/logic/sync.rs /work/main/src/logic/task_table.rs /work/main/src/logic/transition.rs /work/main/src/logic/symbols.rs /work/main/src/logic/stack_verdict.rs /work/main/src/logic/decide.rs /work/main/src/bindings_generated.rs ./rust/libcore.rmeta ./rust/libkernel.rmeta ./rust/libffi.rmeta ./rust/libcompiler_builtins.rmeta ./rust/libmacros.so ./rust/libbindings.rmeta ./rust/libuapi.rmeta ./rust/libbuild_error.rmeta

/work/main/src/livegraft_main.o: /work/main/src/livegraft_main.rs /work/main/src/core.rs /work/main/src/direct.rs /work/main/src/ftrace.rs /work/main/src/patch.rs /work/main/src/safepoints.rs /work/main/src/stack.rs /work/main/src/symbols.rs /work/main/src/sys.rs /work/main/src/sysfs.rs /work/main/src/tracepoint.rs /work/main/src/transition.rs /work/main/src/worker.rs /work/main/src/logic/sync.rs /work/main/src/logic/task_table.rs /work/main/src/logic/transition.rs /work/main/src/logic/symbols.rs /work/main/src/logic/stack_verdict.rs /work/main/src/logic/decide.rs /work/main/src/bindings_generated.rs ./rust/libcore.rmeta ./rust/libkernel.rmeta ./rust/libffi.rmeta ./rust/libcompiler_builtins.rmeta ./rust/libmacros.so ./rust/libbindings.rmeta ./rust/libuapi.rmeta ./rust/libbuild_error.rmeta

/work/main/src/livegraft_main.rs:
/work/main/src/core.rs:
/work/main/src/direct.rs:
/work/main/src/ftrace.rs:
/work/main/src/patch.rs:
/work/main/src/safepoints.rs:
/work/main/src/stack.rs:
/work/main/src/symbols.rs:
/work/main/src/sys.rs:
/work/main/src/sysfs.rs:
/work/main/src/tracepoint.rs:
/work/main/src/transition.rs:
/work/main/src/worker.rs:
/work/main/src/logic/sync.rs:
/work/main/src/logic/task_table.rs:
/work/main/src/logic/transition.rs:
/work/main/src/logic/symbols.rs:
/work/main/src/logic/stack_verdict.rs:
/work/main/src/logic/decide.rs:
/work/main/src/bindings_generated.rs:
./rust/libcore.rmeta:
./rust/libkernel.rmeta:
./rust/libffi.rmeta:
./rust/libcompiler_builtins.rmeta:
./rust/libmacros.so:
./rust/libbindings.rmeta:
./rust/libuapi.rmeta:
./rust/libbuild_error.rmeta:
