/* SPDX-License-Identifier: GPL-2.0 */
/*
 * livegraft C glue: thin wrappers around static inlines and macros that Rust
 * cannot call, plus the exported patch-module entry point. Every function
 * here is notrace (the glue object is built without $(CC_FLAGS_FTRACE))
 * because the ftrace handler and the safe-point probes call into it.
 */
#ifndef _LIVEGRAFT_GLUE_H
#define _LIVEGRAFT_GLUE_H

#include <linux/types.h>

struct ftrace_regs;
struct module;
struct task_struct;
struct livegraft_patch;

/* ftrace handler helpers */
unsigned long lg_ftrace_arg0(struct ftrace_regs *fregs);
int lg_ftrace_test_recursion_trylock(unsigned long ip, unsigned long parent_ip);
void lg_ftrace_test_recursion_unlock(int bit);
struct ftrace_ops;
void lg_redirect_handler(unsigned long ip, unsigned long parent_ip,
			 struct ftrace_ops *op, struct ftrace_regs *fregs);
unsigned long lg_rust_redirect_target(void *site, unsigned long current_key);

/* current task and CPU */
unsigned long lg_current_key(void);
unsigned int lg_cpu(void);
bool lg_cpu_online(unsigned int cpu);
bool lg_cpu_possible(unsigned int cpu);
void lg_cpus_read_lock(void);
void lg_cpus_read_unlock(void);
int lg_task_pid(const struct task_struct *task);
bool lg_task_is_kthread(const struct task_struct *task);
bool lg_task_is_dead(const struct task_struct *task);
void lg_task_comm(const struct task_struct *task, char *buf);
#define LG_CTX_TASK	0
#define LG_CTX_SOFTIRQ	1
#define LG_CTX_HARDIRQ	2
int lg_context(void);
bool lg_task_returns_to_user(const struct task_struct *task);

/* the user_return safe point: a task_work (see the glue) */
int lg_queue_user_return(struct task_struct *task);
void lg_rust_user_return(void);

/* tasks */
typedef bool (*lg_task_visit_fn)(struct task_struct *task, void *data);
void lg_for_each_thread(lg_task_visit_fn visit, void *data);
typedef int (*lg_task_call_fn)(struct task_struct *task, void *data);
int lg_call_if_not_running(struct task_struct *task, lg_task_call_fn fn, void *data);
void lg_task_call_func_bind(unsigned long addr);
struct task_struct *lg_current_task(void);
void lg_set_idle_task_fn(unsigned long addr);
int lg_call_if_idle_parked(lg_task_call_fn fn, void *data);

/* stack walks (see lg_stack_walk() in the glue) */
typedef bool (*lg_stack_consume_fn)(void *cookie, unsigned long addr);
#define LG_WALK_COMPLETE	0
#define LG_WALK_STOPPED		1
#define LG_WALK_UNRELIABLE	(-1)
int lg_stack_walk(struct task_struct *task, lg_stack_consume_fn consume, void *cookie);
void lg_nudge_user_task(struct task_struct *task);
void lg_wake_interruptible(struct task_struct *task);
int lg_task_cpu(const struct task_struct *task);
bool lg_task_on_cpu(const struct task_struct *task);
int lg_stop_machine(int (*fn)(void *data), void *data);
bool lg_sweep_enabled(void);
unsigned int lg_min_table_slots(void);

/* module parameters */
unsigned int lg_nudge_after_ms(void);
unsigned int lg_report_after_ms(void);

/* the table lock: taken from process, softirq (task free) and probe context */
unsigned long lg_table_lock(void);
void lg_table_unlock(unsigned long flags);

/* the transition work (runs lg_transition_work_fn() in process context) */
void lg_transition_work_fn(void);
/* a worker's loop head (preemption disabled): it switches itself there */
void lg_rust_worker_safe_point(void);
void lg_schedule_transition_work(unsigned long delay_jiffies);
int lg_workers_create(void);
void lg_workers_destroy(void);
void lg_run_on_setup_worker(void (*fn)(void *arg), void *arg);
void lg_kick_transition_work(void);
void lg_cancel_transition_work_sync(void);

/* synchronisation */
void lg_tracepoint_synchronize_unregister(void);

/* the retired fast path (ftrace direct calls) */
bool lg_fast_path_enabled(void);
unsigned long lg_permanent_anchor_addr(void);
unsigned int lg_direct_slot_count(void);
unsigned long lg_direct_tramp(unsigned int slot);
void lg_direct_text(unsigned long *start, unsigned long *end);
void lg_direct_slot_init(unsigned int slot, void *site);
void lg_direct_slot_target(unsigned int slot, unsigned long target);
unsigned long lg_direct_decide(void *site);
unsigned long lg_original_entry(unsigned long addr);
void lg_synchronize_all_contexts(void);

/* name resolution (see glue.c): bound once at load, then upstream's walks */
void lg_kallsyms_bind(unsigned long match, unsigned long module_each);
int lg_kallsyms_on_each_match_symbol(int (*fn)(void *, unsigned long), const char *name,
				     void *data);
int lg_module_kallsyms_on_each_symbol(const char *modname,
				      int (*fn)(void *, const char *, unsigned long), void *data);

/* module references */
bool lg_try_module_get(struct module *mod);
bool lg_within_module_text(unsigned long addr, const struct module *mod);
void lg_module_put(struct module *mod);

/* per-patch sysfs directory */
struct kobject;
#define LG_ATTR_ENABLED		0
#define LG_ATTR_TRANSITION	1
#define LG_ATTR_FORCE		2
#define LG_ATTR_PENDING_TASKS	3
#define LG_ATTR_SUMMARY		4
#define LG_ATTR_OBJ_PATCHED	5
#define LG_ATTR_REPLACE		6
#define LG_ATTR_STACK_ORDER	7
struct kobject *lg_patch_dir_create(struct kobject *parent, const char *name);
void lg_patch_dir_destroy(struct kobject *kobj);
struct kobject *lg_object_dir_create(struct kobject *patch_dir, const char *name);
void lg_object_dir_destroy(struct kobject *kobj);
struct kobject *lg_func_dir_create(struct kobject *obj_dir, const char *name);
void lg_kobject_put(struct kobject *kobj);
ssize_t lg_rust_patch_show(struct kobject *kobj, int attr, char *buf);
ssize_t lg_rust_patch_store(struct kobject *kobj, int attr, const char *buf, size_t count);
ssize_t lg_rust_object_show(struct kobject *obj_kobj, char *buf);

/* objects that are modules loaded later (src/objects.rs) */
int lg_module_notifier_register(void);
void lg_module_notifier_unregister(void);
int lg_rust_module_coming(const char *name);
void lg_rust_module_going(const char *name);

/* the Rust side of livegraft_enable_patch() */
int lg_rust_enable_patch(struct livegraft_patch *patch);

/* livegraft_resolve_symbols() (include/livegraft_symbols.h) */
struct livegraft_symbol;
int lg_rust_resolve_symbols(struct module *mod, struct livegraft_symbol *syms);
bool lg_within_module_data(unsigned long addr, unsigned long size, const struct module *mod);
const char *lg_module_name(const struct module *mod);

#endif
