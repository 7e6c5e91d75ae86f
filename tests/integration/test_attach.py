

def test_check_refuses_an_unknown_accept_entry(tmp_path, formpost_config,
                                               public_dir):
    from harness import formpost_cli, write_config
    cfg = configure(formpost_config, public_dir)
    cfg["sites"]["example"]["fields"]["resume"]["accept"] = ["pdf", "exe"]
    path = write_config(tmp_path / "bad.yaml", cfg)
    p = formpost_cli(["check"], config_path=path)
    assert p.returncode == 1
    assert "accept: 'exe' is not in the accept table" in p.stderr + p.stdout
