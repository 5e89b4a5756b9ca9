using System.Runtime.InteropServices;

namespace Adb.Daemon.Native;

/// <summary>Linux struct stat fields we need (decoded from the platform layout).</summary>
internal readonly record struct StatInfo(ulong Dev, ulong Ino, uint Mode, uint Nlink, uint Uid, uint Gid, long Size,
    long Atime, long Mtime, long Ctime)
{
    public const uint S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFREG = 0x8000, S_IFLNK = 0xA000;
    public bool IsDirectory => (Mode & S_IFMT) == S_IFDIR;
    public bool IsRegular => (Mode & S_IFMT) == S_IFREG;
    public bool IsSymlink => (Mode & S_IFMT) == S_IFLNK;
}

/// <summary>P/Invoke into glibc (x86_64 and aarch64 Linux) for what .NET does not expose.</summary>
internal static unsafe partial class Libc
{
    public const int ENOENT = 2, EIO = 5, EACCES = 13, EEXIST = 17, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENAMETOOLONG = 36;
    public const int O_RDWR = 2, O_NOCTTY = 0x100, O_CLOEXEC = 0x80000;
    private const ulong TIOCSWINSZ = 0x5414;

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int stat_(string path, byte* buf);

    [LibraryImport("libc", EntryPoint = "lstat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lstat_(string path, byte* buf);

    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint realpath_(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void free_(nint p);

    [LibraryImport("libc", EntryPoint = "setfsuid")]
    private static partial int setfsuid_(uint uid);

    [LibraryImport("libc", EntryPoint = "setfsgid")]
    private static partial int setfsgid_(uint gid);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall3(long number, long a, long b, long c);

    [LibraryImport("libc", EntryPoint = "getgroups", SetLastError = true)]
    private static partial int getgroups_(int size, uint* list);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint geteuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    public static partial uint getegid();

    [LibraryImport("libc", EntryPoint = "posix_openpt", SetLastError = true)]
    public static partial int posix_openpt(int flags);

    [LibraryImport("libc", EntryPoint = "grantpt", SetLastError = true)]
    public static partial int grantpt(int fd);

    [LibraryImport("libc", EntryPoint = "unlockpt", SetLastError = true)]
    public static partial int unlockpt(int fd);

    [LibraryImport("libc", EntryPoint = "ptsname_r", SetLastError = true)]
    private static partial int ptsname_r(int fd, byte* buf, nint len);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, void* arg);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open3(string path, int flags, uint mode);

    public const int O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0x40, O_EXCL = 0x80;

    /// <summary>open(2); returns the fd, or -errno.</summary>
    public static int Open(string path, int flags, uint mode = 0)
    {
        int fd = open3(path, flags | O_CLOEXEC, mode);
        return fd >= 0 ? fd : -Marshal.GetLastPInvokeError();
    }

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chown(string path, uint uid, uint gid);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int utimensat_(int dirfd, string path, long* times, int flags);

    [LibraryImport("libc", EntryPoint = "symlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int symlink_(string target, string linkpath);

    private static readonly bool IsArm64 = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    /// <summary>stat/lstat; returns 0 or an errno.</summary>
    public static int Stat(string path, bool followLinks, out StatInfo info)
    {
        byte* buf = stackalloc byte[256];
        int rc = followLinks ? stat_(path, buf) : lstat_(path, buf);
        if (rc != 0) { info = default; return Marshal.GetLastPInvokeError(); }
        if (!IsArm64)
            info = new StatInfo(*(ulong*)buf, *(ulong*)(buf + 8), *(uint*)(buf + 24), (uint)*(ulong*)(buf + 16),
                *(uint*)(buf + 28), *(uint*)(buf + 32), *(long*)(buf + 48), *(long*)(buf + 72), *(long*)(buf + 88), *(long*)(buf + 104));
        else
            info = new StatInfo(*(ulong*)buf, *(ulong*)(buf + 8), *(uint*)(buf + 16), *(uint*)(buf + 20),
                *(uint*)(buf + 24), *(uint*)(buf + 28), *(long*)(buf + 48), *(long*)(buf + 72), *(long*)(buf + 88), *(long*)(buf + 104));
        return 0;
    }

    /// <summary>realpath(3); null with errno on failure.</summary>
    public static string? RealPath(string path, out int errno)
    {
        nint p = realpath_(path, 0);
        if (p == 0) { errno = Marshal.GetLastPInvokeError(); return null; }
        errno = 0;
        try { return Marshal.PtrToStringUTF8(p); }
        finally { free_(p); }
    }

    /// <summary>Per-thread filesystem uid/gid (setfsuid/setfsgid are per-thread syscalls; no glibc broadcast).</summary>
    public static void SetFsIds(uint uid, uint gid)
    {
        setfsgid_(gid);
        setfsuid_(uid);
    }

    /// <summary>Per-thread supplementary groups via the raw syscall (glibc's setgroups() would change every thread).</summary>
    public static int SetThreadGroups(uint[] groups)
    {
        long nr = IsArm64 ? 159 : 116;
        fixed (uint* g = groups)
        {
            long rc = syscall3(nr, groups.Length, (long)g, 0);
            return rc == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
    }

    public static uint[] GetGroups()
    {
        int n = getgroups_(0, null);
        if (n <= 0) return [];
        uint[] g = new uint[n];
        fixed (uint* p = g) n = getgroups_(n, p);
        return n < 0 ? [] : g[..n];
    }

    public static string PtsName(int fd)
    {
        byte* buf = stackalloc byte[128];
        int rc = ptsname_r(fd, buf, 128);
        if (rc != 0) throw new IOException("ptsname_r failed: " + Marshal.GetPInvokeErrorMessage(rc));
        return Marshal.PtrToStringUTF8((nint)buf)!;
    }

    public static void SetWindowSize(int fd, int rows, int cols, int xPixels, int yPixels)
    {
        ushort* ws = stackalloc ushort[4];
        ws[0] = (ushort)rows; ws[1] = (ushort)cols; ws[2] = (ushort)xPixels; ws[3] = (ushort)yPixels;
        ioctl(fd, TIOCSWINSZ, ws);
    }

    /// <summary>Sets atime and mtime (Unix seconds) without following a final symlink; returns 0 or errno.</summary>
    public static int SetTimes(string path, long mtime)
    {
        long* t = stackalloc long[4];
        t[0] = mtime; t[1] = 0; t[2] = mtime; t[3] = 0;
        const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100;
        return utimensat_(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    public static int Symlink(string target, string linkPath) =>
        symlink_(target, linkPath) == 0 ? 0 : Marshal.GetLastPInvokeError();

    public static string StrError(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
