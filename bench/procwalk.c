/* procwalk: who holds each DMA-BUF, the way tools without dmabufd find out (Android's
 * dmabuf_dump does the same): every /proc/PID/fdinfo/FD (a DMA-BUF's has "exp_name:",
 * its "ino:" and "size:") and every /proc/PID/maps line of a "/dmabuf:" file. It prints
 * the answer dmabufd's Processes() gives, one line per process holding a buffer:
 *
 *     PID RSS PSS BUFFERS FDS MAPPINGS
 *
 * For `make bench` (bench/run compiles it; bench/driver.py times it against Processes()).
 * Plain C, as the fastest such walk would be written. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hold {
	int pid;
	unsigned long inode;
	unsigned long size;
	int fd; /* 1: an fd, 0: a mapping */
	unsigned long start; /* a mapping's start */
};

static struct hold *holds;
static size_t count, room;

static void add(int pid, unsigned long inode, unsigned long size, int fd, unsigned long start)
{
	if (count == room) {
		room = room ? 2 * room : 4096;
		holds = realloc(holds, room * sizeof(*holds));
		if (!holds) { perror("realloc"); exit(1); }
	}
	holds[count++] = (struct hold){ pid, inode, size, fd, start };
}

static void walk_fds(int pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	DIR *dir = opendir(path);
	if (!dir)
		return;
	struct dirent *entry;
	while ((entry = readdir(dir))) {
		if (!isdigit((unsigned char)entry->d_name[0]))
			continue;
		char file[320];
		snprintf(file, sizeof(file), "%s/%s", path, entry->d_name);
		FILE *info = fopen(file, "r");
		if (!info)
			continue;
		unsigned long inode = 0, size = 0;
		int dmabuf = 0;
		while (fgets(line, sizeof(line), info)) {
			if (!strncmp(line, "ino:", 4)) inode = strtoul(line + 4, NULL, 10);
			else if (!strncmp(line, "size:", 5)) size = strtoul(line + 5, NULL, 10);
			else if (!strncmp(line, "exp_name:", 9)) dmabuf = 1;
		}
		fclose(info);
		if (dmabuf)
			add(pid, inode, size, 1, 0);
	}
	closedir(dir);
}

static void walk_maps(int pid)
{
	char path[64], line[4096];
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	FILE *maps = fopen(path, "r");
	if (!maps)
		return;
	while (fgets(line, sizeof(line), maps)) {
		if (!strstr(line, " /dmabuf:"))
			continue;
		unsigned long start, end, inode;
		char perms[8], offset[32], device[32];
		if (sscanf(line, "%lx-%lx %7s %31s %31s %lu", &start, &end, perms, offset, device, &inode) == 6)
			add(pid, inode, 0, 0, start); /* the size: from any fd of the buffer, or the mapping's length */
	}
	fclose(maps);
}

static int by_pid_then_inode(const void *a, const void *b)
{
	const struct hold *x = a, *y = b;
	if (x->pid != y->pid) return x->pid < y->pid ? -1 : 1;
	if (x->inode != y->inode) return x->inode < y->inode ? -1 : 1;
	return 0;
}

static int by_inode(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	DIR *proc = opendir("/proc");
	if (!proc) { perror("/proc"); return 1; }
	struct dirent *entry;
	while ((entry = readdir(proc))) {
		if (!isdigit((unsigned char)entry->d_name[0]))
			continue;
		int pid = atoi(entry->d_name);
		walk_fds(pid);
		walk_maps(pid);
	}
	closedir(proc);
	qsort(holds, count, sizeof(*holds), by_pid_then_inode);

	/* Each distinct (pid, inode) once: its size, and how many processes hold each inode. */
	unsigned long *owners = malloc((count + 1) * sizeof(*owners)), distinct = 0;
	for (size_t i = 0; i < count; i++) {
		if (i && holds[i].pid == holds[i - 1].pid && holds[i].inode == holds[i - 1].inode)
			continue;
		owners[distinct++] = holds[i].inode;
	}
	qsort(owners, distinct, sizeof(*owners), by_inode);
	/* A buffer held by mapping only has no fd to tell its size: take it from another hold. */
	for (size_t i = 0; i < count; i++)
		if (!holds[i].size)
			for (size_t j = 0; j < count; j++)
				if (holds[j].inode == holds[i].inode && holds[j].size) { holds[i].size = holds[j].size; break; }

	for (size_t i = 0; i < count;) {
		int pid = holds[i].pid;
		unsigned long rss = 0, pss = 0, buffers = 0, fds = 0, mappings = 0;
		for (; i < count && holds[i].pid == pid; i++) {
			if (holds[i].fd) fds++; else mappings++;
			if (i && holds[i - 1].pid == pid && holds[i - 1].inode == holds[i].inode)
				continue;
			unsigned long *first = bsearch(&holds[i].inode, owners, distinct, sizeof(*owners), by_inode);
			unsigned long *last = first;
			while (first > owners && first[-1] == holds[i].inode) first--;
			while (last + 1 < owners + distinct && last[1] == holds[i].inode) last++;
			buffers++;
			rss += holds[i].size;
			pss += holds[i].size / (unsigned long)(last - first + 1);
		}
		printf("%d %lu %lu %lu %lu %lu\n", pid, rss, pss, buffers, fds, mappings);
	}
	return 0;
}
