# umove - plain Makefile; all feature probing happens at run time.
VERSION   := 0.1.0
SOVERSION := 0

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wformat=2
BASE    := -std=gnu11 -D_GNU_SOURCE -pthread $(WARN) -Iinclude $(EXTRA_CFLAGS)

# SAN=1 builds everything with ASan+UBSan into its own tree; SAN=thread, TSan.
ifeq ($(SAN),1)
BUILD   ?= build/asan
BASE    += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(SAN),thread)
BUILD   ?= build/tsan
BASE    += -fsanitize=thread -fno-omit-frame-pointer
else
BUILD   ?= build
endif

LIB_SRC   := $(wildcard src/*.c)
LIBS      := -llz4 -lmemcached
# The CLI's `bench store` compares pread with io_uring: liburing.
URING_CFLAGS := $(shell pkg-config --cflags liburing 2>/dev/null)
URING_LIBS   := $(shell pkg-config --libs liburing 2>/dev/null || echo -luring)
LIB_OBJ   := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
TOOL_SRC  := $(wildcard tools/*.c)
TOOL_OBJ  := $(TOOL_SRC:tools/%.c=$(BUILD)/obj/tools/%.o)
TEST_SRC  := $(filter-out tests/helpers.c,$(wildcard tests/test_*.c))
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
SONAME    := libumove.so.$(SOVERSION)
SHLIB     := $(BUILD)/libumove.so.$(VERSION)
STLIB     := $(BUILD)/libumove.a
CLI       := $(BUILD)/umove
HEADERS   := include/umove.h $(wildcard src/*.h)

.PHONY: all lib tests check test deps install uninstall format clean print-build check-kernels
all: lib $(CLI)
lib: $(SHLIB) $(STLIB)

$(BUILD)/obj/%.o: src/%.c $(HEADERS) Makefile | $(BUILD)/obj
	$(CC) $(BASE) $(CFLAGS) -fPIC -c $< -o $@

$(BUILD)/obj/tools/%.o: tools/%.c include/umove.h $(wildcard tools/*.h) | $(BUILD)/obj/tools
	$(CC) $(BASE) $(URING_CFLAGS) $(CFLAGS) -c $< -o $@

$(SHLIB): $(LIB_OBJ) src/libumove.map
	$(CC) $(BASE) $(CFLAGS) -shared -Wl,-soname,$(SONAME) \
	  -Wl,--version-script=src/libumove.map -o $@ $(LIB_OBJ) $(LDFLAGS) $(LIBS)
	ln -sf libumove.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libumove.so

$(STLIB): $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# The CLI links the static library so that it runs from the tree as built.
$(CLI): $(TOOL_OBJ) $(STLIB)
	$(CC) $(BASE) $(CFLAGS) -o $@ $(TOOL_OBJ) $(STLIB) $(LDFLAGS) $(LIBS) $(URING_LIBS) -lm

TEST_LIB  := tests/helpers.c tests/memcached_pool.c
$(BUILD)/tests/%: tests/%.c $(TEST_LIB) $(wildcard tests/*.h) $(STLIB) | $(BUILD)/tests
	$(CC) $(BASE) $(CFLAGS) -Itests -o $@ $< $(TEST_LIB) $(STLIB) -lcriterion $(LDFLAGS) $(LIBS)

$(BUILD)/obj $(BUILD)/obj/tools $(BUILD)/tests:
	mkdir -p $@

tests: $(TEST_BIN)

# Run the suite once with the current build settings.
test: tests $(CLI)
	tests/run-suite.sh $(BUILD)

# The README's test command: installs what it needs, then runs every variant.
check:
	tests/check.sh

deps:
	tests/deps.sh

# Boot another kernel under QEMU and run the suite there: KERNEL= a vmlinuz
# path or a Debian package name; default Debian 12's Linux 6.1 (no MOVE).
check-kernels:
	tests/kernels/check-kernels.sh $(KERNEL)

print-build:
	@echo $(BUILD)

install: all
	install -d $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	install -m 644 include/umove.h $(DESTDIR)$(INCDIR)/
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libumove.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libumove.so
	install -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    umove.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/umove.pc
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/
	install -m 644 man/man1/*.1 $(DESTDIR)$(MANDIR)/man1/
	cp -P man/man3/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 man/man7/*.7 $(DESTDIR)$(MANDIR)/man7/

uninstall:
	rm -f $(DESTDIR)$(INCDIR)/umove.h $(DESTDIR)$(LIBDIR)/libumove.* \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/umove.pc $(DESTDIR)$(BINDIR)/umove
	cd man && for m in man1/*.1 man3/*.3 man7/*.7; do rm -f $(DESTDIR)$(MANDIR)/$$m; done

format:
	clang-format -i include/*.h src/*.[ch] tools/*.[ch] tests/*.[ch] examples/*.c

clean:
	rm -rf build
