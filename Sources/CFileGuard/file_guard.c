#include "file_guard.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// A fixed table, so that the handler reads it without locks or allocation: a slot is filled, then published by
// storing its base with release order; the handler reads bases with acquire order.
#define FILE_GUARD_SLOTS 4096

typedef struct {
    _Atomic(uintptr_t) base;
    size_t length;
    char *path;
} guard_slot;

static guard_slot slots[FILE_GUARD_SLOTS];
static atomic_flag installed = ATOMIC_FLAG_INIT;

static void write_all(const char *text) {
    size_t left = strlen(text);
    while (left > 0) {
        ssize_t written = write(2, text, left);
        if (written <= 0) return;
        text += written;
        left -= (size_t)written;
    }
}

static void on_bus_error(int signal_number, siginfo_t *info, void *context) {
    (void)context;
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < FILE_GUARD_SLOTS; i++) {
        uintptr_t base = atomic_load_explicit(&slots[i].base, memory_order_acquire);
        if (base != 0 && address >= base && address - base < slots[i].length) {
            write_all("Error: ");
            write_all(slots[i].path);
            write_all(" changed while it was being read: it is now shorter than when it was opened (truncated or "
                      "overwritten in place by another process); nothing read from it can be trusted. Load it again "
                      "once it is complete.\n");
            _exit(1);
        }
    }
    // Not a guarded file: the default action (a crash report) is right.
    signal(signal_number, SIG_DFL);
}

void file_guard_register(const void *base, size_t length, const char *path) {
    if (base == NULL || length == 0) return;
    if (!atomic_flag_test_and_set(&installed)) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = on_bus_error;
        action.sa_flags = SA_SIGINFO;
        sigemptyset(&action.sa_mask);
        sigaction(SIGBUS, &action, NULL);
    }
    for (int i = 0; i < FILE_GUARD_SLOTS; i++) {
        uintptr_t expected = 0;
        // Claim the slot with a marker that matches no address, fill it, then publish the real base.
        if (atomic_compare_exchange_strong(&slots[i].base, &expected, (uintptr_t)1)) {
            slots[i].length = 0;
            free(slots[i].path);
            slots[i].path = strdup(path);
            slots[i].length = length;
            atomic_store_explicit(&slots[i].base, (uintptr_t)base, memory_order_release);
            return;
        }
    }
    // Every slot in use: this mapping is unguarded (its SIGBUS stays a crash report).
}

void file_guard_unregister(const void *base) {
    if (base == NULL) return;
    for (int i = 0; i < FILE_GUARD_SLOTS; i++) {
        if (atomic_load_explicit(&slots[i].base, memory_order_acquire) == (uintptr_t)base) {
            atomic_store_explicit(&slots[i].base, (uintptr_t)0, memory_order_release);
            return;
        }
    }
}
