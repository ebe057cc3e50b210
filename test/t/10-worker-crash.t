#!/usr/bin/env bash
# The worker after SIGKILL: the postmaster restarts it, and a job it was
# running is found, counted as a crash and run again.
source "$(dirname "$0")/tap.sh"
plan 7

q "SELECT billy_test.clear_faults()" >/dev/null
q "SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'))" >/dev/null
q "DELETE FROM billy.jobs" >/dev/null

old_pid=$(q "SELECT pid FROM billy.worker_status()")
ok $([ -n "$old_pid" ]; echo $?) "the worker runs (pid $old_pid)"

# a job that is running when the worker dies: Billy answers after 20 s
q "SELECT billy_test.fault('{\"kind\":\"latency\",\"ms\":20000,\"path\":\"/v2/organization\",\"count\":1}')" >/dev/null
job=$(q "SELECT billy._enqueue('refresh_organization', billy_test.org(1))")
wait_until 10 q_is "SELECT state FROM billy.jobs WHERE id = $job" running
ok $? "job $job is running"

kill -KILL "$old_pid"
ok $? "SIGKILL sent to the worker"

# the postmaster resets every backend after a crash: wait for it to come back
new_pid_ok() {
    local p
    p=$(q "SELECT pid FROM billy.worker_status() WHERE running") || return 1
    [ -n "$p" ] && [ "$p" != "$old_pid" ]
}
wait_until 60 new_pid_ok
ok $? "the postmaster restarts the worker"

wait_until 30 q_is "SELECT crashes FROM billy.jobs WHERE id = $job" 1
ok $? "the interrupted job is counted as a crash"
is "$(q "SELECT last_error FROM billy.jobs WHERE id = $job")" \
   "the worker stopped while running this job (crash or restart)" "and says why it was interrupted"

# it was queued again with a backoff (10 s): let it run now
q "UPDATE billy.jobs SET run_after = now() WHERE id = $job; SELECT billy._wake_worker_at_commit()" >/dev/null
wait_until 30 q_is "SELECT state FROM billy.jobs WHERE id = $job" done
ok $? "the job runs again and succeeds"

done_testing
