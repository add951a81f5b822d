#!/bin/sh
# What cron does in production (README "Commands"), as one loop for docker compose's `scheduler` service.
# Every minute: the expiry sweeps and the KPI fold. Every fifth minute: lesson reminders.
# Once a UTC day (at start, then when the date changes): outbox retention, and slot generation from the
# weekly schedules (each retried the next minute until it succeeds).
# Each command is safe beside another copy of itself and beside the API; a failing one is logged by
# the command itself and the loop goes on.
minute=0
done_on=""
generated_on=""
while true; do
    python manage.py expire_booking_holds
    python manage.py expire_packages
    python manage.py compact_kpi_counters
    if [ $((minute % 5)) -eq 0 ]; then
        python manage.py send_lesson_reminders
    fi
    today=$(date -u +%F)
    if [ "$today" != "$done_on" ]; then
        python manage.py prune_outbox_events --older-than-days 30 && done_on=$today
    fi
    if [ "$today" != "$generated_on" ]; then
        python manage.py generate_slots --weeks 4 && generated_on=$today
    fi
    minute=$((minute + 1))
    sleep 60
done
