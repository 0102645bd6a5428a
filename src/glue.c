// SPDX-License-Identifier: GPL-2.0
/*
 * livegraft C glue. Rust cannot call static inline functions or macros, so
 * each one livegraft needs gets a small out-of-line wrapper here; the
 * patch-module entry point is exported from here (EXPORT_SYMBOL_GPL is a C
 * macro), the module parameters are declared here (the 6.12 Rust module!
 * macro has none), and the slots the direct-call trampolines
 * (src/trampolines.S) read are here. Nothing else belongs in this file:
 * the logic, the decision included, lives in Rust.
 *
 * This object is built without $(CC_FLAGS_FTRACE): the ftrace handler and
 * the safe-point probes call into it, so it must never be traced itself.
 */
#include <linux/ftrace.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/hardirq.h>
#include <linux/irq_work.h>
#include <linux/kallsyms.h>
#include <linux/kobject.h>
#include <linux/kthread.h>
#include <linux/sysfs.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/notifier.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/rcupdate_wait.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/static_call.h>
#include <linux/stop_machine.h>
#include <linux/task_work.h>
#include <linux/trace_recursion.h>
#include <linux/tracepoint.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/uaccess.h>
#include <asm/ibt.h>
#include <asm/irq_regs.h>
#include <asm/nops.h>
#include <asm/text-patching.h>
#include <asm/unwind.h>
#include "livegraft.h"
#include "livegraft_symbols.h"
#include "livegraft_glue.h"

/*
 * The ftrace handler of every patched function. Only the static inlines
 * live here (recursion guard, which also disables preemption, reading
 * current, and setting the instruction pointer), so that a call costs one
 * call into Rust:
 * lg_rust_redirect_target() (src/patch.rs) decides which version runs and
 * returns its address, or 0 for the original.
 */
/* The task table's key of the current task (idle tasks: one key per CPU). */
static __always_inline unsigned long current_key(void)
{
	if (unlikely(current->flags & PF_IDLE))
		return ((unsigned long)raw_smp_processor_id() + 1) << 4;
	return (unsigned long)current;
}

void lg_redirect_handler(unsigned long ip, unsigned long parent_ip,
			 struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	unsigned long target;
	int bit;

	bit = ftrace_test_recursion_trylock(ip, parent_ip);
	if (bit < 0)
		return;
	target = lg_rust_redirect_target(op->private, current_key());
	if (target)
		ftrace_regs_set_instruction_pointer(fregs, target);
	ftrace_test_recursion_unlock(bit);
}

/* The first argument of a function hooked by an ftrace ops (WITH_ARGS). */
unsigned long lg_ftrace_arg0(struct ftrace_regs *fregs)
{
	return ftrace_regs_get_argument(fregs, 0);
}

int lg_ftrace_test_recursion_trylock(unsigned long ip, unsigned long parent_ip)
{
	return ftrace_test_recursion_trylock(ip, parent_ip);
}

void lg_ftrace_test_recursion_unlock(int bit)
{
	ftrace_test_recursion_unlock(bit);
}

/*
 * The task-table key of the current task: the task pointer, or for an idle
 * task (not on the task list, one per CPU) a small per-CPU key that no task
 * pointer can equal. Must match idle_key() in src/transition.rs.
 */
unsigned long lg_current_key(void)
{
	return current_key();
}

unsigned int lg_cpu(void)
{
	return raw_smp_processor_id();
}

bool lg_cpu_online(unsigned int cpu)
{
	return cpu < nr_cpu_ids && cpu_online(cpu);
}

bool lg_cpu_possible(unsigned int cpu)
{
	return cpu < nr_cpu_ids && cpu_possible(cpu);
}

/*
 * The CPU hotplug lock (exports of <linux/cpu.h>, which the private bindings
 * do not include): held, no CPU is half-way on- or offline.
 */
void lg_cpus_read_lock(void)
{
	cpus_read_lock();
}

void lg_cpus_read_unlock(void)
{
	cpus_read_unlock();
}

int lg_task_pid(const struct task_struct *task)
{
	return task->pid;
}

bool lg_task_is_kthread(const struct task_struct *task)
{
	return task->flags & PF_KTHREAD;
}

/*
 * Called with the task unable to run (pinned, or every CPU stopped): a task
 * in TASK_DEAD never runs again, and its stack may already be freed by the
 * CPU that switched away from it (finish_task_switch()), so it must not be
 * unwound. do_task_dead() sets the state under p->pi_lock, so a pinned task
 * that is not TASK_DEAD cannot become so while it is pinned.
 */
bool lg_task_is_dead(const struct task_struct *task)
{
	return READ_ONCE(task->__state) == TASK_DEAD;
}

struct task_struct *lg_current_task(void)
{
	return current;
}

void lg_task_comm(const struct task_struct *task, char *buf)
{
	memcpy(buf, task->comm, TASK_COMM_LEN);
	buf[TASK_COMM_LEN - 1] = 0;
}

/*
 * The context a probe runs in, for the switch rules (logic::decide::Context):
 * task context (in_task(): no hard or soft interrupt, no NMI), serving a
 * softirq, or a hard interrupt or NMI.
 */
int lg_context(void)
{
	if (in_task())
		return LG_CTX_TASK;
	if (in_hardirq() || in_nmi())
		return LG_CTX_HARDIRQ;
	return LG_CTX_SOFTIRQ;
}

/*
 * Whether @task runs user code and so passes the return-to-user path:
 * neither a kernel thread nor a user worker (io_uring and vhost workers run
 * task_work from their own loop, in the kernel).
 */
bool lg_task_returns_to_user(const struct task_struct *task)
{
	return !(READ_ONCE(task->flags) & (PF_KTHREAD | PF_USER_WORKER));
}

/*
 * The user_return safe point (src/transition.rs: user_return()). The
 * transition work queues a task_work on a pending user task; the task runs
 * it on its way back to user mode (resume_user_mode_work(), TWA_RESUME), or
 * in get_signal() or at exit, in task context.
 *
 * Lifetime. No module can cancel a task_work (task_work_cancel*() are not
 * exported), and the task may run it at any later time: right away, after
 * its transition completed or reversed, or after a sleep of hours. So:
 *  - the callback_head is allocated per request and freed by the callback
 *    itself (task_work_run() reads ->next before calling ->func);
 *  - the callback touches the transition only while the switching safe
 *    points are armed, with preemption disabled (see user_return_armed() in
 *    src/safepoints.rs for the grace period that covers it);
 *  - the callback's code is this module's text: every queued request holds
 *    a reference on this module, so it cannot be unloaded while one is
 *    queued (rmmod fails with EAGAIN until every such task returned to user
 *    mode or exited), and the callback drops it as its very last action, by
 *    a tail jump into module_put() (below): after the reference is gone, no
 *    instruction of this module runs any more, as with
 *    module_put_and_kthread_exit().
 */
void lg_user_return_work(struct callback_head *cb);
void lg_user_return_cb(struct callback_head *cb);

#ifdef CONFIG_CFI_CLANG
#error "lg_user_return_cb is called indirectly and has no kCFI type hash: give it one before enabling CFI"
#endif

asm(
"	.pushsection	.text, \"ax\", @progbits\n"
"	.balign	16\n"
"	.type	lg_user_return_cb, @function\n"
"lg_user_return_cb:\n"
	ASM_ENDBR
"	call	lg_user_return_work\n"
"	leaq	__this_module(%rip), %rdi\n"
"	jmp	module_put\n"
"	.size	lg_user_return_cb, .-lg_user_return_cb\n"
"	.popsection\n"
);

__visible void lg_user_return_work(struct callback_head *cb)
{
	kfree(cb);
	preempt_disable_notrace();
	lg_rust_user_return();
	preempt_enable_notrace();
}

/*
 * Queue the user_return request on @task (valid: RCU walk). 0, -ENOMEM, or
 * -ESRCH when @task already passed exit_task_work().
 */
int lg_queue_user_return(struct task_struct *task)
{
	struct callback_head *cb = kmalloc(sizeof(*cb), GFP_NOWAIT | __GFP_NOWARN);
	int ret;

	if (!cb)
		return -ENOMEM;
	init_task_work(cb, lg_user_return_cb);
	/* Before queueing: the callback may run, and put it, at once. */
	__module_get(THIS_MODULE);
	ret = task_work_add(task, cb, TWA_RESUME);
	if (ret) {
		module_put(THIS_MODULE);
		kfree(cb);
	}
	return ret;
}

/*
 * Visit every thread under RCU (never tasklist_lock: it is not exported and
 * holding it across a long walk causes hard lockups, see anchors). @visit
 * returns false to stop early. Threads created during the walk may be
 * missed; the caller's fork hook covers them.
 */
void lg_for_each_thread(lg_task_visit_fn visit, void *data)
{
	struct task_struct *g, *t;

	rcu_read_lock();
	for_each_process_thread(g, t) {
		if (!visit(t, data))
			break;
	}
	rcu_read_unlock();
}

/*
 * task_call_func() (kernel/sched/core.c; not exported): upstream livepatch's
 * way (klp_try_switch_task()) to pin any task that is not on a CPU:
 * p->pi_lock holds off wakeups of a blocked task, and for a runnable one the
 * runqueue lock (a module cannot take it otherwise) holds off its being
 * scheduled in. Bound at load to the vmlinux function of that name
 * (src/stack.rs resolves it and checks it with kallsyms) and called through a
 * static call, a direct call: with IBT the kernel seals the entry of
 * functions whose address it never takes, so an indirect call would fault.
 * Unbound, lg_call_if_not_running() falls back to blocked tasks only.
 */
DEFINE_STATIC_CALL_RET0(lg_task_call_func, task_call_func);
static bool lg_task_call_func_bound;

/* Module init only, before any transition: process context. */
void lg_task_call_func_bind(unsigned long addr)
{
	static_call_update(lg_task_call_func, (typeof(&task_call_func))addr);
	WRITE_ONCE(lg_task_call_func_bound, true);
}

struct lg_pin {
	lg_task_call_fn fn;
	void *data;
};

/*
 * Runs inside task_call_func(): @task is pinned unless it is on a CPU. A
 * task on a CPU (running, or in __schedule() switching in or out) uses its
 * stack: not checked now. Otherwise it cannot run until task_call_func()
 * returns: a runnable one needs the runqueue lock we hold to be scheduled
 * in, a blocked one the pi_lock to be woken. The acquire pairs with the
 * release in finish_task(), so the stack the task left is visible.
 */
static int lg_pinned(struct task_struct *task, void *arg)
{
	struct lg_pin *pin = arg;

	if (smp_load_acquire(&task->on_cpu))
		return -EAGAIN;
	return pin->fn(task, pin->data);
}

/*
 * Call @fn with @task pinned off any CPU (see lg_pinned()), blocked or
 * runnable, through task_call_func() as upstream livepatch does; -EAGAIN if
 * it is on a CPU. Without task_call_func() only a blocked task can be pinned,
 * the way task_call_func() pins one: p->pi_lock holds off try_to_wake_up(),
 * and a task that is neither TASK_RUNNING/TASK_WAKING nor on a runqueue, and
 * has left __schedule() (on_cpu == 0), cannot run until we drop the lock; a
 * runnable one then gets -EAGAIN and switches at its own safe point or in a
 * later pass.
 */
int lg_call_if_not_running(struct task_struct *task, lg_task_call_fn fn, void *data)
{
	unsigned long flags;
	unsigned int state;
	int ret = -EAGAIN;

	if (READ_ONCE(lg_task_call_func_bound)) {
		struct lg_pin pin = { .fn = fn, .data = data };

		return static_call(lg_task_call_func)(task, lg_pinned, &pin);
	}
	raw_spin_lock_irqsave(&task->pi_lock, flags);
	state = READ_ONCE(task->__state);
	if (state == TASK_RUNNING || state == TASK_WAKING)
		goto out;
	/* Load on_rq after __state; pairs with the barriers in try_to_wake_up(). */
	smp_rmb();
	if (task->on_rq)
		goto out;
	/* Wait until the task has left __schedule(); as task_call_func() does. */
	smp_rmb();
	smp_cond_load_acquire(&task->on_cpu, !VAL);
	ret = fn(task, data);
out:
	raw_spin_unlock_irqrestore(&task->pi_lock, flags);
	return ret;
}

/*
 * The walk behind every stack check: arch_stack_walk_reliable() (which, as
 * stack_trace_save_tsk_reliable(), is not exported) rebuilt from the
 * exported ORC unwinder API. Unlike stack_trace_save_tsk() it reports every
 * frame, .sched.text and .spinlock.text included (in_sched_functions() is
 * what stack_trace_save_tsk() filters out: a task asleep in schedule_timeout()
 * or mutex_lock() seemed not to be in them), and it says when the walk is
 * not complete: an unwinder error (unwind_error(): no ORC data for a frame,
 * a bad stack pointer, the stack going the wrong way), a return address
 * outside known text, or more than LG_WALK_MAX_FRAMES frames. A walk ends
 * cleanly at the user-mode registers of a user task or at the
 * end-of-stack hint of a kernel thread.
 *
 * @task is current, or a task that cannot run meanwhile and is alive (not
 * TASK_DEAD): pinned blocked, every CPU stopped, or a parked idle task of
 * this CPU. Returns LG_WALK_COMPLETE, LG_WALK_STOPPED when @consume returned
 * false, or LG_WALK_UNRELIABLE.
 */
#define LG_WALK_MAX_FRAMES 256

int lg_stack_walk(struct task_struct *task, lg_stack_consume_fn consume, void *cookie)
{
	struct unwind_state state;
	struct pt_regs *regs;
	unsigned long addr;
	unsigned int frames = 0;

	for (unwind_start(&state, task, NULL, NULL);
	     !unwind_done(&state) && !unwind_error(&state);
	     unwind_next_frame(&state)) {
		regs = unwind_get_entry_regs(&state, NULL);
		if (regs && user_mode(regs))
			return LG_WALK_COMPLETE;
		addr = unwind_get_return_address(&state);
		if (!addr || ++frames > LG_WALK_MAX_FRAMES)
			return LG_WALK_UNRELIABLE;
		if (!consume(cookie, addr))
			return LG_WALK_STOPPED;
	}
	return unwind_error(&state) ? LG_WALK_UNRELIABLE : LG_WALK_COMPLETE;
}

/*
 * idle_task() is not exported; livegraft resolves it by name at load (it is
 * a plain accessor, cpu_rq(cpu)->idle) and calls it through a static call,
 * a direct call (with IBT an indirect call of a function whose address the
 * kernel never takes would fault). Unbound, parked idle tasks are never
 * checked and idle tasks switch in their own loop only.
 */
DEFINE_STATIC_CALL_RET0(lg_idle_task, idle_task);
static bool lg_idle_task_bound;

/* Module init only, before any transition: process context. */
void lg_set_idle_task_fn(unsigned long addr)
{
	static_call_update(lg_idle_task, (typeof(&idle_task))addr);
	WRITE_ONCE(lg_idle_task_bound, true);
}

/*
 * From an IPI callback (interrupts off) on a CPU that runs another task:
 * call @fn with this CPU's idle task, which is then parked off the CPU in
 * schedule_idle() and pinned: only this CPU runs it, and this CPU cannot
 * schedule before we return. The context switch away from it completed
 * before interrupts were enabled again (finish_task() cleared on_cpu), so
 * its stack is stable. Returns -EAGAIN (and does not call @fn) otherwise.
 */
int lg_call_if_idle_parked(lg_task_call_fn fn, void *data)
{
	struct task_struct *idle;

	if (!READ_ONCE(lg_idle_task_bound) || !irqs_disabled())
		return -EAGAIN;
	idle = static_call(lg_idle_task)(smp_processor_id());
	if (!idle || idle == current || !(idle->flags & PF_IDLE))
		return -EAGAIN;
	/* Pairs with the release store of on_cpu in finish_task(). */
	if (smp_load_acquire(&idle->on_cpu))
		return -EAGAIN;
	return fn(idle, data);
}

/*
 * Make a user task leave an interruptible sleep and pass through syscall
 * exit, the way set_notify_signal() does (it is a static inline calling the
 * unexported wake_up_state()): TIF_NOTIFY_SIGNAL makes signal_pending()
 * true, the interrupted syscall returns -ERESTARTSYS and, since no real
 * signal is queued, is restarted transparently after exit_to_user_mode has
 * cleared the flag. default_wake_function() on a wait entry whose private
 * field is the task is exactly try_to_wake_up(task, TASK_INTERRUPTIBLE, 0):
 * an uninterruptible sleeper is never woken spuriously.
 */
void lg_nudge_user_task(struct task_struct *task)
{
	struct wait_queue_entry entry = { .private = task };

	if (!test_and_set_tsk_thread_flag(task, TIF_NOTIFY_SIGNAL) &&
	    !default_wake_function(&entry, TASK_INTERRUPTIBLE, 0, NULL))
		kick_process(task);
}

/* Wake a task only if it sleeps interruptibly (kthreads; upstream does the same). */
void lg_wake_interruptible(struct task_struct *task)
{
	struct wait_queue_entry entry = { .private = task };

	default_wake_function(&entry, TASK_INTERRUPTIBLE, 0, NULL);
}

int lg_task_cpu(const struct task_struct *task)
{
	return task_cpu(task);
}

bool lg_task_on_cpu(const struct task_struct *task)
{
	return READ_ONCE(task->on_cpu);
}

/* stop_machine() is a plain export, but its callback type is cpu_stop_fn_t. */
int lg_stop_machine(int (*fn)(void *data), void *data)
{
	return stop_machine(fn, data, NULL);
}

/*
 * Read-only facts about the loaded core for userspace (the livegraft
 * command): /sys/module/livegraft/parameters/abi_version is the patch ABI
 * this core accepts, /sys/module/livegraft/version its version (keep it
 * equal to LIVEGRAFT_VERSION in livegraft_main.rs).
 */
static uint abi_version = LIVEGRAFT_ABI_VERSION;
module_param(abi_version, uint, 0444);
MODULE_PARM_DESC(abi_version, "The patch-module ABI this core implements (read-only)");
MODULE_VERSION("0.1.0");

static unsigned int min_table_slots = 4096;
module_param(min_table_slots, uint, 0644);
MODULE_PARM_DESC(min_table_slots, "Smallest task table, in 16-byte slots (64 to 4096, default 4096; small values make the tests rebuild the table)");

unsigned int lg_min_table_slots(void)
{
	return READ_ONCE(min_table_slots);
}

static bool sweep;
module_param(sweep, bool, 0644);
MODULE_PARM_DESC(sweep, "Start each transition with one stop_machine sweep that switches every task whose stack is clean, runnable ones included (default N: stops every CPU for one walk of all threads)");

bool lg_sweep_enabled(void)
{
	return READ_ONCE(sweep);
}

/*
 * Module parameters (the 6.12 Rust module! macro has no parameters), read
 * by the transition work each time it runs, so they can be tuned in
 * /sys/module/livegraft/parameters/ during a transition.
 */
static unsigned int nudge_after_ms = 500;
module_param(nudge_after_ms, uint, 0644);
MODULE_PARM_DESC(nudge_after_ms, "Nudge tasks still pending this long after a transition started (ms, default 500)");

static unsigned int report_after_ms = 5000;
module_param(report_after_ms, uint, 0644);
MODULE_PARM_DESC(report_after_ms, "Report tasks still pending this long after a transition started, in dmesg (ms, default 5000)");

unsigned int lg_nudge_after_ms(void)
{
	return READ_ONCE(nudge_after_ms);
}

unsigned int lg_report_after_ms(void)
{
	return READ_ONCE(report_after_ms);
}

static DEFINE_RAW_SPINLOCK(lg_table_raw_lock);

unsigned long lg_table_lock(void)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&lg_table_raw_lock, flags);
	return flags;
}

void lg_table_unlock(unsigned long flags)
{
	raw_spin_unlock_irqrestore(&lg_table_raw_lock, flags);
}

/*
 * livegraft's two kthread workers (see src/worker.rs for why they exist and
 * why they run SCHED_FIFO): "livegraft" runs the transition work, and
 * "livegraft-setup" runs, on behalf of a caller that waits for it, the steps
 * that rewrite kernel text. Both are created at module load, before any
 * patch can exist, and destroyed at unload, after everything was cancelled.
 */
static bool fifo_workers = true;
module_param(fifo_workers, bool, 0444);
MODULE_PARM_DESC(fifo_workers, "Run the transition and setup workers SCHED_FIFO (low priority) so that load does not stretch transitions (default Y)");

static struct kthread_worker *lg_transition_worker;
static struct kthread_worker *lg_setup_worker;

/*
 * Each job of either worker starts at the worker's loop head: the worker
 * switches itself there (lg_rust_worker_safe_point(), src/transition.rs),
 * so a transition never waits for the task that does its work.
 */
static void lg_worker_safe_point(void)
{
	preempt_disable();
	lg_rust_worker_safe_point();
	preempt_enable();
}

static void lg_transition_work(struct kthread_work *work)
{
	lg_worker_safe_point();
	lg_transition_work_fn();
}
static DEFINE_KTHREAD_DELAYED_WORK(lg_transition_dwork, lg_transition_work);

int lg_workers_create(void)
{
	lg_transition_worker = kthread_create_worker(0, "livegraft");
	if (IS_ERR(lg_transition_worker))
		return PTR_ERR(lg_transition_worker);
	lg_setup_worker = kthread_create_worker(0, "livegraft-setup");
	if (IS_ERR(lg_setup_worker)) {
		kthread_destroy_worker(lg_transition_worker);
		return PTR_ERR(lg_setup_worker);
	}
	if (fifo_workers) {
		sched_set_fifo_low(lg_transition_worker->task);
		sched_set_fifo_low(lg_setup_worker->task);
	}
	return 0;
}

/* Module exit, after lg_cancel_transition_work_sync(): nothing is queued. */
void lg_workers_destroy(void)
{
	kthread_destroy_worker(lg_setup_worker);
	kthread_destroy_worker(lg_transition_worker);
}

/* Safe from any context but NMI (the timer is IRQ-safe). */
void lg_schedule_transition_work(unsigned long delay_jiffies)
{
	kthread_mod_delayed_work(lg_transition_worker, &lg_transition_dwork, delay_jiffies);
}

/*
 * From a probe or the ftrace handler's safe points, the context may hold any
 * lock (a scheduler lock, p->pi_lock): queueing work there, which wakes the
 * worker, can invert lock order. An irq_work takes no lock to queue and runs
 * its callback from a clean hardirq context, which then queues the work.
 */
static void lg_kick_fn(struct irq_work *work)
{
	kthread_mod_delayed_work(lg_transition_worker, &lg_transition_dwork, 0);
}
static DEFINE_IRQ_WORK(lg_kick_irq_work, lg_kick_fn);

void lg_kick_transition_work(void)
{
	irq_work_queue(&lg_kick_irq_work);
}

void lg_cancel_transition_work_sync(void)
{
	irq_work_sync(&lg_kick_irq_work);
	kthread_cancel_delayed_work_sync(&lg_transition_dwork);
}

struct lg_setup_job {
	struct kthread_work work;
	void (*fn)(void *arg);
	void *arg;
};

static void lg_setup_job_fn(struct kthread_work *work)
{
	struct lg_setup_job *job = container_of(work, struct lg_setup_job, work);

	lg_worker_safe_point();
	job->fn(job->arg);
}

/*
 * Runs fn(arg) on the setup worker and returns when it has returned. The
 * job lives on this stack: kthread_flush_work() returns only after the
 * worker finished with it, and the worker does not touch a work after its
 * function returned.
 */
void lg_run_on_setup_worker(void (*fn)(void *arg), void *arg)
{
	struct lg_setup_job job = { .fn = fn, .arg = arg };

	kthread_init_work(&job.work, lg_setup_job_fn);
	kthread_queue_work(lg_setup_worker, &job.work);
	kthread_flush_work(&job.work);
}

/*
 * Every patched function is called through one of the trampolines of
 * src/trampolines.S (see src/direct.rs), which reads its slot here:
 * target (the fast path; 0: the decision) is the one word that changes
 * while the trampoline is attached; site is written only while it is not.
 */
struct lg_direct_slot {
	unsigned long target;
	void *site;
};
static_assert(sizeof(struct lg_direct_slot) == 16);	/* LG_SLOT_SIZE */
static_assert(offsetof(struct lg_direct_slot, site) == 8);	/* LG_SLOT_SITE */

static bool fast_path = true;
module_param(fast_path, bool, 0644);
MODULE_PARM_DESC(fast_path, "Give retired patched functions the fast path (default Y; N keeps the per-task decision, for comparison)");

bool lg_fast_path_enabled(void)
{
	return READ_ONCE(fast_path);
}

#define LG_DIRECT_SLOTS 128	/* as in src/trampolines.S */
struct lg_direct_slot lg_direct_slots[LG_DIRECT_SLOTS];

/* The per-task decision, from the trampolines; returns 0 for the original. */
unsigned long lg_direct_decide(void *site)
{
	unsigned long target;

	/* Versions and tables are freed only after every CPU left this section. */
	preempt_disable_notrace();
	target = lg_rust_redirect_target(site, current_key());
	preempt_enable_notrace();
	return target;
}

/* src/trampolines.S: each slot's trampoline, then the text range. */
extern const unsigned long lg_direct_tramps[LG_DIRECT_SLOTS + 2];

/* Fewer trampolines than built; 0 sends every function to the fallback. */
static unsigned int direct_slots = LG_DIRECT_SLOTS;
module_param(direct_slots, uint, 0444);
MODULE_PARM_DESC(direct_slots, "Trampolines to use, at most 128 (default 128; functions beyond them use an IPMODIFY ftrace handler)");

unsigned int lg_direct_slot_count(void)
{
	return min_t(unsigned int, direct_slots, LG_DIRECT_SLOTS);
}

unsigned long lg_direct_tramp(unsigned int slot)
{
	return slot < LG_DIRECT_SLOTS ? lg_direct_tramps[slot] : 0;
}

/* The text of every trampoline (for stack checks). */
void lg_direct_text(unsigned long *start, unsigned long *end)
{
	*start = lg_direct_tramps[LG_DIRECT_SLOTS];
	*end = lg_direct_tramps[LG_DIRECT_SLOTS + 1];
}

/*
 * A slot before its trampoline is attached: the decision for @site (NULL:
 * the original). register_ftrace_direct() then publishes it: the text
 * patching that makes the call site call the trampoline (text_poke_bp(),
 * with a serialising IPI to every CPU) orders these stores before any CPU
 * can enter the trampoline for this function.
 */
void lg_direct_slot_init(unsigned int slot, void *site)
{
	struct lg_direct_slot *s;

	if (slot >= LG_DIRECT_SLOTS)
		return;
	s = &lg_direct_slots[slot];
	WRITE_ONCE(s->site, site);
	WRITE_ONCE(s->target, 0);
}

/*
 * The mode of an attached slot: the fast path to @target, or 0 for the
 * decision. One aligned word, read once by the trampoline: no reader can
 * combine two publications (issue 13, item 8). What the word points to is
 * older than the store: a version's code (its module is pinned while the
 * version is on a stack) or, for 0, the site written before attaching.
 */
void lg_direct_slot_target(unsigned int slot, unsigned long target)
{
	if (slot >= LG_DIRECT_SLOTS)
		return;
	WRITE_ONCE(lg_direct_slots[slot].target, target);
}

/* Whether @addr holds an ftrace call site: a call, the NOP ftrace leaves, or int3 mid-patching. */
static bool lg_is_ftrace_site(unsigned long addr)
{
	static const u8 nop5[MCOUNT_INSN_SIZE] = { BYTES_NOP5 };
	u8 insn[MCOUNT_INSN_SIZE];

	if (copy_from_kernel_nofault(insn, (void *)addr, sizeof(insn)))
		return false;
	return insn[0] == CALL_INSN_OPCODE || insn[0] == INT3_INSN_OPCODE ||
	       !memcmp(insn, nop5, sizeof(insn));
}

/*
 * The address of the original code of the function at @addr just past its
 * ftrace call site, which is where ftrace's and livegraft's trampolines
 * return to: entering there runs the original, no redirection sees it. The
 * call site is the function's first instruction, or its second after ENDBR
 * (or the NOP that sealing leaves of an ENDBR) under IBT, as ftrace's
 * FTRACE_MCOUNT_MAX_OFFSET allows. 0 if there is none; the direct call's
 * registration checks the function with ftrace itself.
 */
unsigned long lg_original_entry(unsigned long addr)
{
	if (lg_is_ftrace_site(addr))
		return addr + MCOUNT_INSN_SIZE;
	if (HAS_KERNEL_IBT && lg_is_ftrace_site(addr + ENDBR_INSN_SIZE))
		return addr + ENDBR_INSN_SIZE + MCOUNT_INSN_SIZE;
	return 0;
}

void lg_tracepoint_synchronize_unregister(void)
{
	tracepoint_synchronize_unregister();
}

/*
 * Wait until every ftrace handler and probe that may have seen the old
 * state has returned, including those that ran where RCU was not watching
 * (idle entry, early exception entry): synchronize_rcu() covers the
 * preempt-disabled handlers RCU sees, synchronize_rcu_tasks_rude() forces a
 * schedule on every CPU as upstream's schedule_on_each_cpu() does.
 */
void lg_synchronize_all_contexts(void)
{
	synchronize_rcu();
	synchronize_rcu_tasks_rude();
}

/*
 * Name resolution walks the same kernel functions as upstream livepatch's
 * klp_find_object_symbol(), so that "the Nth symbol of that name in that
 * object" means exactly what it means upstream: kallsyms_on_each_match_symbol()
 * (vmlinux only) and module_kallsyms_on_each_symbol() (one module only).
 * Neither is exported. src/symbols.rs resolves their addresses once at load
 * (a disabled kprobe by name, checked against kallsyms) and binds them here.
 *
 * They are called through static calls, i.e. direct call and jmp
 * instructions rewritten by the kernel's own text patching, not through a
 * function pointer: with CONFIG_X86_KERNEL_IBT, objtool seals the ENDBR of
 * every function whose address vmlinux never takes (these two among them),
 * so an indirect call to them takes a #CP fault on IBT hardware, and with
 * kCFI/FineIBT the sealed preamble fails the type check as well. The
 * prototypes come from the kernel headers (DEFINE_STATIC_CALL_RET0 takes the
 * type of the declaration): a kernel that changes them does not compile
 * livegraft. Before lg_kallsyms_bind() they return 0: every name is "not
 * found".
 */
DEFINE_STATIC_CALL_RET0(lg_kallsyms_match, kallsyms_on_each_match_symbol);
DEFINE_STATIC_CALL_RET0(lg_module_kallsyms_each, module_kallsyms_on_each_symbol);

/* Module init only, before any resolution: process context, may sleep. */
void lg_kallsyms_bind(unsigned long match, unsigned long module_each)
{
	static_call_update(lg_kallsyms_match, (typeof(&kallsyms_on_each_match_symbol))match);
	static_call_update(lg_module_kallsyms_each,
			   (typeof(&module_kallsyms_on_each_symbol))module_each);
}

/* kallsyms_on_each_match_symbol(): process context, may sleep. */
int lg_kallsyms_on_each_match_symbol(int (*fn)(void *, unsigned long), const char *name,
				     void *data)
{
	return static_call(lg_kallsyms_match)(fn, name, data);
}

/* module_kallsyms_on_each_symbol(): takes module_mutex, may sleep. */
int lg_module_kallsyms_on_each_symbol(const char *modname,
				      int (*fn)(void *, const char *, unsigned long), void *data)
{
	return static_call(lg_module_kallsyms_each)(modname, fn, data);
}

bool lg_try_module_get(struct module *mod)
{
	return try_module_get(mod);
}

void lg_module_put(struct module *mod)
{
	module_put(mod);
}

/*
 * Whether addr is in the core text of mod (not its init text, freed after
 * init, nor its data): a replacement must be code of its patch module, which
 * livegraft pins while the patch is registered. The patch module is loading
 * (its init calls us), so mod->mem[] is stable.
 */
bool lg_within_module_text(unsigned long addr, const struct module *mod)
{
	return within_module_mem_type(addr, mod, MOD_TEXT);
}

/*
 * Per-patch sysfs directory: the attribute tables are macros, so they live
 * here; show/store dispatch to Rust with the attribute's id.
 */
#define LG_PATCH_ATTR(_name, _mode, _id)					\
static ssize_t _name##_show(struct kobject *kobj, struct kobj_attribute *a, char *buf) \
{ return lg_rust_patch_show(kobj, _id, buf); }					\
static ssize_t _name##_store(struct kobject *kobj, struct kobj_attribute *a,	\
			     const char *buf, size_t count)			\
{ return lg_rust_patch_store(kobj, _id, buf, count); }				\
static struct kobj_attribute _name##_attr = __ATTR(_name, _mode, _name##_show, _name##_store)

LG_PATCH_ATTR(enabled, 0644, LG_ATTR_ENABLED);
LG_PATCH_ATTR(transition, 0444, LG_ATTR_TRANSITION);
LG_PATCH_ATTR(force, 0200, LG_ATTR_FORCE);
LG_PATCH_ATTR(pending_tasks, 0444, LG_ATTR_PENDING_TASKS);
LG_PATCH_ATTR(summary, 0444, LG_ATTR_SUMMARY);
LG_PATCH_ATTR(replace, 0444, LG_ATTR_REPLACE);
LG_PATCH_ATTR(stack_order, 0444, LG_ATTR_STACK_ORDER);

static struct attribute *lg_patch_attrs[] = {
	&enabled_attr.attr,
	&transition_attr.attr,
	&force_attr.attr,
	&pending_tasks_attr.attr,
	&summary_attr.attr,
	&replace_attr.attr,
	&stack_order_attr.attr,
	NULL,
};
static const struct attribute_group lg_patch_group = { .attrs = lg_patch_attrs };

struct kobject *lg_patch_dir_create(struct kobject *parent, const char *name)
{
	struct kobject *kobj = kobject_create_and_add(name, parent);

	if (!kobj)
		return NULL;
	if (sysfs_create_group(kobj, &lg_patch_group)) {
		kobject_put(kobj);
		return NULL;
	}
	return kobj;
}

/* Waits for running show/store callbacks: never call with the registry mutex held. */
void lg_patch_dir_destroy(struct kobject *kobj)
{
	sysfs_remove_group(kobj, &lg_patch_group);
	kobject_put(kobj);
}

/* <patch>/<object>/patched: whether the object's functions are patched now. */
static ssize_t obj_patched_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)
{
	return lg_rust_object_show(kobj, buf);
}
static struct kobj_attribute obj_patched_attr = __ATTR(patched, 0444, obj_patched_show, NULL);
static struct attribute *lg_object_attrs[] = { &obj_patched_attr.attr, NULL };
static const struct attribute_group lg_object_group = { .attrs = lg_object_attrs };

struct kobject *lg_object_dir_create(struct kobject *patch_dir, const char *name)
{
	struct kobject *kobj = kobject_create_and_add(name, patch_dir);

	if (!kobj)
		return NULL;
	if (sysfs_create_group(kobj, &lg_object_group)) {
		kobject_put(kobj);
		return NULL;
	}
	return kobj;
}

void lg_object_dir_destroy(struct kobject *kobj)
{
	sysfs_remove_group(kobj, &lg_object_group);
	kobject_put(kobj);
}

/* <patch>/<object>/<function,sympos>/: an empty directory, as upstream. */
struct kobject *lg_func_dir_create(struct kobject *obj_dir, const char *name)
{
	return kobject_create_and_add(name, obj_dir);
}

void lg_kobject_put(struct kobject *kobj)
{
	kobject_put(kobj);
}

/*
 * Objects that are modules loaded later: upstream calls klp_module_coming()
 * from prepare_coming_module(), after ftrace_module_enable() and before the
 * notifier chain; a notifier of the highest priority runs at the same point
 * (the module's ftrace records are enabled, its init has not run). An error
 * at COMING refuses the load; the robust chain then sends GOING to us.
 * GOING comes after the module's exit (or a failed init) and before
 * ftrace_release_mod(), so our ftrace registrations go first.
 */
static int lg_module_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	struct module *mod = data;

	switch (action) {
	case MODULE_STATE_COMING:
		return notifier_from_errno(lg_rust_module_coming(mod->name));
	case MODULE_STATE_GOING:
		lg_rust_module_going(mod->name);
		break;
	}
	return NOTIFY_OK;
}

static struct notifier_block lg_module_nb = {
	.notifier_call = lg_module_notify,
	.priority = INT_MAX,
};

int lg_module_notifier_register(void)
{
	return register_module_notifier(&lg_module_nb);
}

void lg_module_notifier_unregister(void)
{
	unregister_module_notifier(&lg_module_nb);
}

int livegraft_enable_patch(struct livegraft_patch *patch)
{
	return lg_rust_enable_patch(patch);
}
EXPORT_SYMBOL_GPL(livegraft_enable_patch);

/*
 * Whether [addr, addr + size) is writable data of mod during its init:
 * .data/.bss or .data..ro_after_init (LIVEGRAFT_SYMBOL's slots).
 */
bool lg_within_module_data(unsigned long addr, unsigned long size, const struct module *mod)
{
	unsigned long last = addr + size - 1;

	if (!size || last < addr)
		return false;
	return (within_module_mem_type(addr, mod, MOD_DATA) &&
		within_module_mem_type(last, mod, MOD_DATA)) ||
	       (within_module_mem_type(addr, mod, MOD_RO_AFTER_INIT) &&
		within_module_mem_type(last, mod, MOD_RO_AFTER_INIT));
}

/* The layouts include/livegraft_abi.rs asserts too (ABI 3). */
static_assert(sizeof(struct livegraft_func) == 32);
static_assert(sizeof(struct livegraft_callbacks) == 40);
static_assert(sizeof(struct livegraft_object) == 72);
static_assert(sizeof(struct livegraft_state) == 24);
static_assert(sizeof(struct livegraft_patch) == 56);

/*
 * find_module() is not exported; livegraft resolves it by name at load and
 * calls it through a static call (a direct call, for IBT), with preemption
 * disabled as it requires (module_assert_mutex_or_preempt()). Unbound, a
 * module object's mod stays NULL.
 */
DEFINE_STATIC_CALL_RET0(lg_find_module_call, find_module);

/* Module init only: process context. */
void lg_set_find_module_fn(unsigned long addr)
{
	static_call_update(lg_find_module_call, (typeof(&find_module))addr);
}

/*
 * The module is not pinned: the caller keeps the pointer only while the
 * patch that names the module is registered (see Documentation/design.rst,
 * "Known limits": module targets must stay loaded).
 */
struct module *lg_find_module(const char *name)
{
	struct module *mod;

	preempt_disable();
	mod = static_call(lg_find_module_call)(name);
	preempt_enable();
	return mod;
}

const char *lg_module_name(const struct module *mod)
{
	return mod->name;
}

int livegraft_resolve_symbols(struct module *mod, struct livegraft_symbol *syms)
{
	return lg_rust_resolve_symbols(mod, syms);
}
EXPORT_SYMBOL_GPL(livegraft_resolve_symbols);

/* src/state.rs's list of registered descriptors; after the registry mutex. */
static DEFINE_MUTEX(lg_states_mutex);

void lg_states_lock(void)
{
	mutex_lock(&lg_states_mutex);
}

void lg_states_unlock(void)
{
	mutex_unlock(&lg_states_mutex);
}

struct livegraft_state *livegraft_get_state(struct livegraft_patch *patch, unsigned long id)
{
	return lg_rust_get_state(patch, id);
}
EXPORT_SYMBOL_GPL(livegraft_get_state);

struct livegraft_state *livegraft_get_prev_state(unsigned long id)
{
	return lg_rust_get_prev_state(id);
}
EXPORT_SYMBOL_GPL(livegraft_get_prev_state);

/* --- shadow variables (the table is src/shadow.rs) --- */

static_assert(offsetof(struct lg_shadow, data) % sizeof(unsigned long) == 0);

/*
 * Upstream's klp_shadow lock: a spinlock taken with interrupts disabled, so
 * that the API may be used from any context a patched function runs in.
 */
static DEFINE_SPINLOCK(lg_shadow_spinlock);

unsigned long lg_shadow_lock(void)
{
	unsigned long flags;

	spin_lock_irqsave(&lg_shadow_spinlock, flags);
	return flags;
}

void lg_shadow_unlock(unsigned long flags)
{
	spin_unlock_irqrestore(&lg_shadow_spinlock, flags);
}

void lg_rcu_read_lock(void)
{
	rcu_read_lock();
}

void lg_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

/* Zeroed, with the caller's GFP flags (upstream: kzalloc(size + header)). */
struct lg_shadow *lg_shadow_new(size_t size, unsigned int gfp_flags)
{
	return kzalloc(struct_size_t(struct lg_shadow, data, size), (__force gfp_t)gfp_flags);
}

void lg_shadow_kfree(struct lg_shadow *s)
{
	kfree(s);
}

/* Readers may still hold it: free after a grace period (no module code runs then). */
void lg_shadow_kfree_rcu(struct lg_shadow *s)
{
	kfree_rcu(s, rcu);
}

/* upstream's messages, with %p (hashed) */
void lg_shadow_ctor_failed(void *obj, unsigned long id, int err)
{
	pr_err("livegraft: Failed to construct shadow variable <%p, %lx> (%d)\n", obj, id, err);
}

void lg_shadow_duplicate(void *obj, unsigned long id)
{
	pr_err("livegraft: Duplicate shadow variable <%p, %lx>\n", obj, id);
}

void *livegraft_shadow_get(void *obj, unsigned long id)
{
	return lg_rust_shadow_get(obj, id);
}
EXPORT_SYMBOL_GPL(livegraft_shadow_get);

void *livegraft_shadow_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp_flags,
			     livegraft_shadow_ctor_t ctor, void *ctor_data)
{
	return lg_rust_shadow_get_or_alloc(obj, id, size, (__force unsigned int)gfp_flags, ctor,
					   ctor_data, true);
}
EXPORT_SYMBOL_GPL(livegraft_shadow_alloc);

void *livegraft_shadow_get_or_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp_flags,
				    livegraft_shadow_ctor_t ctor, void *ctor_data)
{
	return lg_rust_shadow_get_or_alloc(obj, id, size, (__force unsigned int)gfp_flags, ctor,
					   ctor_data, false);
}
EXPORT_SYMBOL_GPL(livegraft_shadow_get_or_alloc);

void livegraft_shadow_free(void *obj, unsigned long id, livegraft_shadow_dtor_t dtor)
{
	lg_rust_shadow_free(obj, id, dtor);
}
EXPORT_SYMBOL_GPL(livegraft_shadow_free);

void livegraft_shadow_free_all(unsigned long id, livegraft_shadow_dtor_t dtor)
{
	lg_rust_shadow_free_all(id, dtor);
}
EXPORT_SYMBOL_GPL(livegraft_shadow_free_all);
