using System.Text;
using Adb.Daemon.Tests.Infrastructure;

namespace Adb.Daemon.Tests.Interop;

/// <summary>Debian's adb push/pull/ls against our adbd's sync service.</summary>
[Collection("connected")]
public class SyncTests(ConnectedDaemonFixture fx)
{
    private AdbTestEnv Env => fx.Env;

    private string NewDir(string name)
    {
        string d = Path.Combine(Env.Root, "sync-" + name + "-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(d);
        return d;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(65527)]
    [InlineData(65528)] // one DATA chunk exactly as Debian's client cuts them
    [InlineData(65536)]
    [InlineData(65537)]
    [InlineData(1048576)] // one transport max payload
    [InlineData(3_000_001)]
    public void PushThenPull_RoundTripsBytes(int size)
    {
        string dir = NewDir("size");
        byte[] data = new byte[size];
        new Random(size).NextBytes(data);
        string src = Path.Combine(dir, "src.bin"), remote = Path.Combine(dir, "remote", "f.bin"), back = Path.Combine(dir, "back.bin");
        File.WriteAllBytes(src, data);
        var push = Env.Adb("push", src, remote);
        Assert.True(push.ExitCode == 0, push.ToString());
        Assert.Equal(data, File.ReadAllBytes(remote));
        var pull = Env.Adb("pull", remote, back);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        Assert.Equal(data, File.ReadAllBytes(back));
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, "remote"), ".*.tmp"));
    }

    [Fact]
    public void Push_KeepsModeAndMtime()
    {
        string dir = NewDir("mode");
        string src = Path.Combine(dir, "run.sh");
        File.WriteAllText(src, "#!/bin/sh\n");
        File.SetUnixFileMode(src, (UnixFileMode)0b111_101_000);
        File.SetLastWriteTimeUtc(src, new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        string remote = Path.Combine(dir, "out", "run.sh");
        Assert.Equal(0, Env.Adb("push", src, remote).ExitCode);
        Assert.Equal((UnixFileMode)0b111_101_000, File.GetUnixFileMode(remote));
        Assert.Equal(new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc), File.GetLastWriteTimeUtc(remote));
    }

    [Fact]
    public void PushPull_NonAsciiNames()
    {
        string dir = NewDir("utf8");
        string name = "файл 日本語 é ✓.txt";
        string src = Path.Combine(dir, name);
        File.WriteAllText(src, "unicode\n");
        string remoteDir = Path.Combine(dir, "remote 目录");
        var push = Env.Adb("push", src, Path.Combine(remoteDir, name));
        Assert.True(push.ExitCode == 0, push.ToString());
        Assert.Equal("unicode\n", File.ReadAllText(Path.Combine(remoteDir, name)));
        var ls = Env.Adb("ls", remoteDir);
        Assert.Contains(" " + name + "\n", ls.Stdout);
        string back = Path.Combine(dir, "back");
        Directory.CreateDirectory(back);
        Assert.Equal(0, Env.Adb("pull", Path.Combine(remoteDir, name), back).ExitCode);
        Assert.Equal("unicode\n", File.ReadAllText(Path.Combine(back, name)));
    }

    [Fact]
    public void PushPull_Folders()
    {
        string dir = NewDir("tree");
        string tree = Path.Combine(dir, "tree");
        Directory.CreateDirectory(Path.Combine(tree, "a", "b"));
        File.WriteAllText(Path.Combine(tree, "top.txt"), "top");
        File.WriteAllText(Path.Combine(tree, "a", "mid.txt"), "mid");
        File.WriteAllBytes(Path.Combine(tree, "a", "b", "deep.bin"), new byte[70000]);
        File.WriteAllText(Path.Combine(tree, "a", "b", "empty"), "");
        string remote = Path.Combine(dir, "remote");
        var push = Env.Adb("push", tree, remote);
        Assert.True(push.ExitCode == 0, push.ToString());
        Assert.Contains("4 files pushed", push.Stdout);
        Assert.Equal("mid", File.ReadAllText(Path.Combine(remote, "a", "mid.txt")));
        string back = Path.Combine(dir, "back");
        var pull = Env.Adb("pull", remote, back);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        Assert.Contains("4 files pulled", pull.Stdout);
        Assert.Equal(70000, new FileInfo(Path.Combine(back, "a", "b", "deep.bin")).Length);
        Assert.Equal("top", File.ReadAllText(Path.Combine(back, "top.txt")));
        Assert.Equal(0, new FileInfo(Path.Combine(back, "a", "b", "empty")).Length);
    }

    [Fact]
    public void Ls_ListsEntriesWithModeSizeMtime()
    {
        string dir = NewDir("ls");
        File.WriteAllBytes(Path.Combine(dir, "five"), new byte[5]);
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        var r = Env.Adb("ls", dir);
        Assert.Equal(0, r.ExitCode);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        long mtime = new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(dir, "five"))).ToUnixTimeSeconds();
        Assert.Contains($"000081a4 00000005 {mtime:x8} five", lines);
        Assert.Contains(lines, l => l.StartsWith("000041ed") && l.EndsWith(" sub"));
        Assert.Contains(lines, l => l.EndsWith(" ."));
        Assert.Contains(lines, l => l.EndsWith(" .."));
        Assert.Equal(4, lines.Length);
    }

    [Fact]
    public void Pull_MissingFile_FailsWithStatError()
    {
        var r = Env.Adb("pull", "/nonexistent-adbd-test/x", Path.Combine(Env.Root, "x"));
        Assert.Equal(1, r.ExitCode);
        // 29.0.6 prints this error on stdout.
        Assert.Contains("failed to stat remote object '/nonexistent-adbd-test/x': No such file or directory", r.Stdout + r.Stderr);
    }

    [Fact]
    public void Push_UnderARegularFile_FailsWithMkdirsErrorAndKeepsServing()
    {
        string dir = NewDir("notdir");
        string src = Path.Combine(dir, "f");
        File.WriteAllText(src, "x");
        File.WriteAllText(Path.Combine(dir, "plain"), "p");
        var r = Env.Adb("push", src, Path.Combine(dir, "plain", "sub", "f"));
        Assert.Equal(1, r.ExitCode);
        // STA2 reports ENOTDIR for the target, which the 29.0.6 client turns into this error before SEND.
        Assert.Contains("stat failed when trying to push to", r.Stdout + r.Stderr);
        Assert.Contains("Not a directory", r.Stdout + r.Stderr);
        Assert.Equal(0, Env.Adb("shell", "true").ExitCode);
    }

    [Fact]
    public void Push_Symlink_CreatesLink()
    {
        string dir = NewDir("link");
        string target = Path.Combine(dir, "t.txt");
        File.WriteAllText(target, "t");
        string link = Path.Combine(dir, "l");
        File.CreateSymbolicLink(link, "t.txt");
        string remote = Path.Combine(dir, "out", "l2");
        Assert.Equal(0, Env.Adb("push", link, remote).ExitCode);
        // Debian's client follows the local link when pushing a single file: a regular copy arrives.
        Assert.Equal("t", File.ReadAllText(remote));
        Assert.Equal(Encoding.UTF8.GetBytes("t"), File.ReadAllBytes(remote));
    }

    [Fact]
    public async Task PushPullAndShells_Concurrently_OnOneTransport()
    {
        string dir = NewDir("concurrent");
        byte[] data = new byte[20_000_000];
        new Random(3).NextBytes(data);
        string src = Path.Combine(dir, "src.bin");
        File.WriteAllBytes(src, data);
        var push = Task.Run(() => Env.Adb("push", src, Path.Combine(dir, "pushed.bin")));
        var pull = Task.Run(() => Env.Adb("pull", src, Path.Combine(dir, "pulled.bin")));
        var shells = Enumerable.Range(0, 8).Select(i => Task.Run(() => Env.Adb("shell", $"echo shell-{i}; exit {i}"))).ToArray();
        var results = await Task.WhenAll(shells);
        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal(i, results[i].ExitCode);
            Assert.Equal($"shell-{i}\n", results[i].Stdout);
        }
        Assert.Equal(0, (await push).ExitCode);
        Assert.Equal(0, (await pull).ExitCode);
        Assert.Equal(data, File.ReadAllBytes(Path.Combine(dir, "pushed.bin")));
        Assert.Equal(data, File.ReadAllBytes(Path.Combine(dir, "pulled.bin")));
    }

    [Fact]
    public async Task Push_ToFifo_WritesIntoItInsteadOfReplacingIt()
    {
        // Same path as `adb push f /dev/null`: a non-regular target must be written in place, never renamed over.
        string dir = NewDir("fifo");
        string fifo = Path.Combine(dir, "pipe");
        Assert.Equal(0, Env.Run("mkfifo", [fifo]).ExitCode);
        var reader = Task.Run(() => File.ReadAllBytes(fifo));
        string src = Path.Combine(dir, "src");
        File.WriteAllText(src, "through the fifo");
        var push = Env.Adb("push", src, fifo);
        Assert.True(push.ExitCode == 0, push.ToString());
        Assert.Equal("through the fifo", System.Text.Encoding.UTF8.GetString(await reader.WaitAsync(TimeSpan.FromSeconds(10))));
        Assert.Equal(0, Env.Run("test", ["-p", fifo]).ExitCode);
    }
}
