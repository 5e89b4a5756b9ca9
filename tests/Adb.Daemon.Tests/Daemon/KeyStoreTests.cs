using Adb.Daemon.Services;
using Adb.Protocol;

namespace Adb.Daemon.Tests.Daemon;

/// <summary>Keys-file parsing and the pending/approve/revoke/deny file operations (no peer).</summary>
public class KeyStoreTests
{
    private static readonly AdbKey Key = AdbKey.Generate();

    [Fact]
    public void ParseLine_NoOptions_GrantsDefault()
    {
        var k = KeyStore.ParseLine(Key.PublicKeyLine("me@host"))!;
        Assert.Equal(Capabilities.Default, k.Capabilities);
        Assert.Equal("me@host", k.Comment);
        Assert.Equal(Key.Fingerprint, k.Fingerprint);
        Assert.Equal("shell,sync,forward,reverse", k.Capabilities.ToString());
    }

    [Fact]
    public void ParseLine_Options_AreParsedAndRoundTrip()
    {
        var k = KeyStore.ParseLine("sync-read=/var/log/app,sync-read=\"/data/my logs\",root " + Key.PublicKeyLine("ops@laptop"))!;
        Assert.False(k.Capabilities.Shell);
        Assert.False(k.Capabilities.Sync);
        Assert.True(k.Capabilities.Root);
        Assert.Equal(["/var/log/app", "/data/my logs"], k.Capabilities.SyncRead);
        Assert.Equal(k.Capabilities, KeyStore.ParseLine(k.ToLine())!.Capabilities);
    }

    [Theory]
    [InlineData("")]
    [InlineData("# comment")]
    public void ParseLine_BlankOrComment_IsNull(string line) => Assert.Null(KeyStore.ParseLine(line));

    [Theory]
    [InlineData("shel")]
    [InlineData("sync-read=relative/path")]
    public void ParseLine_BadOption_Throws(string options) =>
        Assert.Throws<FormatException>(() => KeyStore.ParseLine(options + " " + Key.PublicKeyLine("x")));

    [Fact]
    public void ParseLine_BadKey_Throws() => Assert.Throws<FormatException>(() => KeyStore.ParseLine("shell QUFBQQ== x@y"));

    [Fact]
    public void PendingApproveRevokeDeny_MoveKeysBetweenFiles()
    {
        string dir = Directory.CreateTempSubdirectory("keystore").FullName;
        try
        {
            var store = new KeyStore(Path.Combine(dir, "adb_keys"));
            using var other = AdbKey.Generate();
            Assert.True(store.AddPending(Key.PublicKey, "a@b"));
            Assert.False(store.AddPending(Key.PublicKey, "a@b"));
            Assert.True(store.AddPending(other.PublicKey, "c@d"));
            var approved = store.Approve(Key.Fingerprint[..11], Capabilities.Parse("sync-read=/logs"));
            Assert.Equal(Key.Fingerprint, approved.Fingerprint);
            Assert.Single(store.LoadAuthorized());
            Assert.StartsWith("sync-read=/logs ", File.ReadAllText(store.KeysPath));
            Assert.Single(store.LoadPending());
            Assert.False(store.AddPending(Key.PublicKey, "a@b")); // already authorized
            store.Deny(other.Fingerprint);
            Assert.Empty(store.LoadPending());
            store.Revoke(Key.Fingerprint);
            Assert.Empty(store.LoadAuthorized());
            Assert.Throws<KeyNotFoundException>(() => store.Revoke(Key.Fingerprint));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("shell:", "", true, false, "dumb")]
    [InlineData("shell:ls -l", "ls -l", false, false, "dumb")]
    [InlineData("shell,v2,TERM=xterm,raw:echo hi", "echo hi", false, true, "xterm")]
    [InlineData("shell,v2,TERM=xterm-256color,pty:", "", true, true, "xterm-256color")]
    [InlineData("shell,v2,pty:top", "top", true, true, "dumb")]
    public void ShellRequest_Parse_FollowsAospDefaults(string service, string cmd, bool pty, bool v2, string term)
    {
        var r = ShellRequest.Parse(service)!;
        Assert.Equal((cmd, pty, v2, term), (r.Command, r.Pty, r.V2, r.Term));
    }

    [Fact]
    public void ShellRequest_Parse_RejectsOtherServices()
    {
        Assert.Null(ShellRequest.Parse("shellx:ls"));
        Assert.Null(ShellRequest.Parse("sync:"));
        Assert.Equal("echo 'raw'", ShellRequest.Parse("exec:echo 'raw'")!.Command);
    }
}
